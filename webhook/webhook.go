// Package webhook delivers Easel's webhooks (easel.WebhookSender): POSTs signed per the
// Standard Webhooks specification (https://www.standardwebhooks.com), to URLs users
// gave, so it owns the safety rules for connecting to them:
//
//   - https only (AllowHTTP lifts this for development);
//   - never to a loopback, private, link-local (the instance metadata address
//     included), unique-local, CGNAT, multicast, reserved or unspecified address, nor to
//     IPv6 forms that embed one (AllowPrivate lifts this for development and tests);
//     checked when the URL is accepted (Check resolves its host) and again when the
//     connection is made (the dialer resolves once more and refuses a forbidden
//     address before connecting, then checks the socket's address once more), so a
//     host that changes its DNS answer in between (DNS rebinding) is refused;
//   - no redirects, no proxy, a 10 s limit per delivery, and no more than 64 KiB of the
//     answer read.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/easelhq/easel"
)

// Limits.
const (
	// DefaultTimeout bounds one delivery: connecting, sending and reading the answer.
	DefaultTimeout = 10 * time.Second
	// MaxURLLength bounds a webhook URL.
	MaxURLLength = 2048
	// maxAnswer is how much of an answer is read (and thrown away) so that the
	// connection can be reused.
	maxAnswer = 64 << 10
	// resolveTimeout bounds Check's DNS lookup.
	resolveTimeout = 5 * time.Second
	// keyPrefix starts every signing key.
	keyPrefix = "whsec_"
	// keyBytes is the size of generated keys (the specification asks for 24 to 64).
	keyBytes = 32
)

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configures a Sender. The zero value is the production setting.
type Options struct {
	// AllowPrivate lets webhooks reach loopback, private and link-local addresses:
	// for development and tests only (--webhook-allow-private).
	AllowPrivate bool
	// AllowHTTP accepts http:// URLs: for development and tests only.
	AllowHTTP bool
	// Timeout bounds one delivery (DefaultTimeout when zero).
	Timeout time.Duration
	// Resolver looks up hosts (net.DefaultResolver when nil).
	Resolver Resolver
	// RootCAs verifies receivers' certificates (the system's when nil).
	RootCAs *x509.CertPool
	// UserAgent is sent with each delivery ("Easel-Webhooks/1" when empty).
	UserAgent string
}

// Sender delivers webhooks. It is safe for concurrent use.
type Sender struct {
	opts   Options
	client *http.Client
	// connect opens a connection to an address already checked (tests replace it to
	// prove that no connection is attempted).
	connect func(ctx context.Context, network, addr string) (net.Conn, error)
}

var _ easel.WebhookSender = (*Sender)(nil)

// New returns a Sender.
func New(o Options) *Sender {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.UserAgent == "" {
		o.UserAgent = "Easel-Webhooks/1"
	}
	s := &Sender{opts: o}
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		d.Control = control
	}
	s.connect = d.DialContext
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would connect for us, past the address checks
		DialContext:           s.dial,
		TLSClientConfig:       &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	s.client = &http.Client{
		Transport: transport,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a 3xx is an answer, not a new address to visit
		},
	}
	return s
}

// refusal is why a webhook URL or address is not acceptable: a user-facing sentence.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refuse(format string, args ...any) error {
	return &refusal{fmt.Sprintf(format, args...)}
}

// asInvalid turns a refusal anywhere in err's chain into EInvalid with param webhook.
func asInvalid(err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return &easel.Error{Code: easel.EInvalid, Param: "webhook", Message: r.msg, Err: err}
	}
	return err
}

// parse checks a webhook URL's form and returns it with its host and port.
func (s *Sender) parse(rawURL string) (*url.URL, string, string, error) {
	if len(rawURL) > MaxURLLength {
		return nil, "", "", refuse("The webhook URL is longer than %d characters.", MaxURLLength)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", "", refuse("The webhook URL is not a valid URL.")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && s.opts.AllowHTTP:
	default:
		return nil, "", "", refuse("The webhook URL must use https.")
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, "", "", refuse("The webhook URL must name a host.")
	}
	if u.User != nil {
		return nil, "", "", refuse("The webhook URL must not contain credentials.")
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return nil, "", "", refuse("The webhook URL must not have a fragment.")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, "", "", refuse("The webhook URL has an invalid port.")
	}
	if host == "" {
		return nil, "", "", refuse("The webhook URL must name a host.")
	}
	return u, host, port, nil
}

// resolve returns host's addresses, refusing the host if any of them is forbidden (an
// attacker's name may answer one public and one private address).
func (s *Sender) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		found, err := s.opts.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil || len(found) == 0 {
			return nil, refuse("The webhook host %q does not resolve.", host)
		}
		ips = found
	}
	if !s.opts.AllowPrivate {
		for _, ip := range ips {
			if !Allowed(ip) {
				return nil, refuse("The webhook host %q resolves to a private, loopback, link-local or otherwise non-public address (%s).", host, ip.Unmap())
			}
		}
	}
	return ips, nil
}

// Check validates a webhook URL: its form, and that its host resolves only to public
// addresses. EInvalid with param "webhook" otherwise.
func (s *Sender) Check(ctx context.Context, rawURL string) error {
	_, host, _, err := s.parse(rawURL)
	if err != nil {
		return asInvalid(err)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	_, err = s.resolve(ctx, host)
	return asInvalid(err)
}

// dial resolves the host again at connect time and connects only to allowed
// addresses; the dialer's Control checks the socket's address once more.
func (s *Sender) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := s.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var first error
	for _, ip := range ips {
		conn, err := s.connect(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// control refuses to connect a socket to a forbidden address: the last check, on the
// address the kernel is about to connect to.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse("The webhook address %q cannot be checked.", address)
	}
	if !Allowed(ap.Addr()) {
		return refuse("The webhook host resolved to a non-public address (%s) at connect time.", ap.Addr().Unmap())
	}
	return nil
}

// NewKey returns a new signing key: "whsec_" and the standard base64 of 32 random bytes.
func NewKey() string {
	b := make([]byte, keyBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return keyPrefix + base64.StdEncoding.EncodeToString(b)
}

// decodeKey returns a key's secret bytes.
func decodeKey(key string) ([]byte, error) {
	b64, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return nil, errors.New("webhook key does not start with whsec_")
	}
	secret, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(secret) < 24 || len(secret) > 64 {
		return nil, errors.New("webhook key is not the base64 of 24 to 64 bytes")
	}
	return secret, nil
}

// signature returns the webhook-signature header: "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" for each key, space-separated.
func signature(id string, ts int64, body []byte, keys []string) (string, error) {
	var b strings.Builder
	prefix := id + "." + strconv.FormatInt(ts, 10) + "."
	for i, key := range keys {
		secret, err := decodeKey(key)
		if err != nil {
			return "", err
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(prefix))
		m.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return b.String(), nil
}

// Send POSTs the message, signed with each of its keys, and returns nil when the
// receiver answered 2xx. A URL or address that is not acceptable is EInvalid with
// param "webhook" (retrying will not help); any other failure is an error to retry.
func (s *Sender) Send(ctx context.Context, m *easel.WebhookMessage) error {
	if m.ID == "" || len(m.Keys) == 0 {
		return fmt.Errorf("webhook message: want an id and at least one key")
	}
	u, _, _, err := s.parse(m.URL)
	if err != nil {
		return asInvalid(err)
	}
	ts := m.Timestamp.Unix()
	sig, err := signature(m.ID, ts, m.Body, m.Keys)
	if err != nil {
		return fmt.Errorf("sign webhook %s: %w", m.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(m.Body))
	if err != nil {
		return asInvalid(refuse("The webhook URL is not a valid URL."))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.opts.UserAgent)
	req.Header.Set("Webhook-Id", m.ID)
	req.Header.Set("Webhook-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Webhook-Signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		if inv := asInvalid(err); inv != err {
			return inv
		}
		return fmt.Errorf("deliver webhook %s to %s: %w", m.ID, origin(u), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		what := ""
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			what = " (redirects are not followed)"
		}
		return fmt.Errorf("deliver webhook %s to %s: the receiver answered %d%s", m.ID, origin(u), resp.StatusCode, what)
	}
	return nil
}

// origin is the URL's scheme and host, for error messages: the path and query may
// hold the receiver's secrets.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }
