package webhook

import (
	"net/netip"
)

// forbidden are the address ranges a webhook may not reach: anything that is not a
// public unicast address on the internet. IPv4-mapped IPv6 addresses are unmapped
// before they are checked; addresses that embed an IPv4 address (NAT64, 6to4) are
// checked for the embedded one too.
var forbidden = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		// IPv4
		"0.0.0.0/8",       // "this network", the unspecified address included
		"10.0.0.0/8",      // private (RFC 1918)
		"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local: instance metadata (169.254.169.254) and the ECS/EKS agents
		"172.16.0.0/12",   // private (RFC 1918)
		"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
		"192.0.2.0/24",    // documentation (TEST-NET-1)
		"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
		"192.168.0.0/16",  // private (RFC 1918)
		"198.18.0.0/15",   // benchmarking (RFC 2544)
		"198.51.100.0/24", // documentation (TEST-NET-2)
		"203.0.113.0/24",  // documentation (TEST-NET-3)
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, 255.255.255.255 (broadcast) included
		// IPv6
		"::/96",          // unspecified, loopback (::1) and IPv4-compatible addresses
		"100::/64",       // discard-only (RFC 6666)
		"64:ff9b:1::/48", // local-use NAT64 (RFC 8215)
		"2001::/23",      // IETF protocol assignments, Teredo (2001::/32) included
		"2001:db8::/32",  // documentation
		"fc00::/7",       // unique local: AWS's fd00:ec2::254 metadata address included
		"fe80::/10",      // link-local
		"fec0::/10",      // site-local (deprecated)
		"ff00::/8",       // multicast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// nat64 and sixToFour embed an IPv4 address, which is checked in turn.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Allowed reports whether a webhook may connect to ip: a public unicast address.
func Allowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range forbidden {
		if p.Contains(ip) {
			return false
		}
	}
	switch {
	case nat64.Contains(ip):
		b := ip.As16()
		return Allowed(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		b := ip.As16()
		return Allowed(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}
