package router

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// Request ids bounds (Heroku's, §6.4): a client-supplied X-Request-Id is kept
// only when it is 20–200 characters of [A-Za-z0-9+/=-].
const (
	MinRequestIDLen = 20
	MaxRequestIDLen = 200
)

// ValidRequestID reports whether id is a client-supplied request id the
// router keeps instead of generating one.
func ValidRequestID(id string) bool {
	if len(id) < MinRequestIDLen || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '+', c == '/', c == '=', c == '-':
		default:
			return false
		}
	}
	return true
}

// idGen makes UUID-shaped request ids without crypto/rand per request: a
// counter run through a keyed bijective mix. Distinct counter values give
// distinct ids, and the random keys make ids of different routers (and
// restarts) unrelated and hard to guess from one another.
type idGen struct {
	k0, k1 uint64
	ctr    atomic.Uint64
}

func newIDGen() *idGen {
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	return &idGen{k0: binary.LittleEndian.Uint64(seed[:8]), k1: binary.LittleEndian.Uint64(seed[8:])}
}

// mix64 is the splitmix64 finalizer: a bijection on uint64.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

const hexDigits = "0123456789abcdef"

// append appends a fresh id formatted as 8-4-4-4-12 lowercase hex.
func (g *idGen) append(dst []byte) []byte {
	n := g.ctr.Add(1)
	hi := mix64(n ^ g.k0)
	lo := mix64(hi ^ g.k1) // derived from hi so the whole id stays a bijection of n
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], hi)
	binary.BigEndian.PutUint64(raw[8:], lo)
	for i, b := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}
