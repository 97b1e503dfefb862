package webhook

import (
	"context"
	"net"
)

// Control is the dialer's last check, for tests.
var Control = control

// SetConnect replaces how s connects to an address that passed the checks.
func SetConnect(s *Sender, fn func(ctx context.Context, network, addr string) (net.Conn, error)) {
	s.connect = fn
}

// Signature is the signer, for the benchmark (tests verify with their own code).
var Signature = signature
