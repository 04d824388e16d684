package sealed

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// KeySize is the length of a key's secret: AES-256.
const KeySize = 32

// Key is one AES-256 key. ID names it inside every value it seals, so that
// the right opening key is found without trying them all; it is not
// secret. Secret is the 32-byte key itself.
//
// A Key prints (with any fmt verb) and logs (slog) without its Secret.
type Key struct {
	ID     string
	Secret []byte
}

// String returns the key's ID with the secret redacted.
func (k Key) String() string {
	return "sealed.Key{ID:" + strconv.Quote(k.ID) + ", Secret:[REDACTED]}"
}

// Format redacts the secret for every verb, %x and %#v included.
func (k Key) Format(f fmt.State, verb rune) { io.WriteString(f, k.String()) }

// LogValue logs the key's ID only.
func (k Key) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// KeyID is the ID ParseKeys gives a secret: the first 8 hex digits of its
// SHA-256, which an operator can compute with
//
//	printf %s "$KEY" | base64 -d | sha256sum | cut -c1-8
//
// It reveals nothing useful about a random 32-byte secret.
func KeyID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:4])
}

// validKeyID reports whether id can name a key inside a sealed value: 1 to
// 64 bytes of ASCII letters, digits, '_' and '-' (no ':', which separates
// the fields of the value).
func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// KeyRule names the rule a line of a key list broke.
type KeyRule string

const (
	RuleKeyNone      KeyRule = "no keys: want at least one line with a key"
	RuleKeyWords     KeyRule = "one key per line (a comment starts with '#')"
	RuleKeyBase64    KeyRule = "not base64 (standard or URL alphabet, padded or not)"
	RuleKeySize      KeyRule = "a key is 32 bytes (AES-256)"
	RuleKeyDuplicate KeyRule = "the same key is listed twice"
)

// KeyError reports a key list that breaks a rule. It names the line and
// the rule, never the line's text (which would be a secret).
type KeyError struct {
	Line  int // 1-based; 0 for RuleKeyNone
	Rule  KeyRule
	Size  int    // RuleKeySize: the decoded length
	First int    // RuleKeyDuplicate: the line that listed the key first
	ID    string // RuleKeyDuplicate: the key's ID
}

func (e *KeyError) Error() string {
	var b strings.Builder
	b.WriteString("sealed: keys")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	b.WriteString(": " + string(e.Rule))
	switch e.Rule {
	case RuleKeySize:
		fmt.Fprintf(&b, ", this one is %d bytes", e.Size)
	case RuleKeyDuplicate:
		fmt.Fprintf(&b, " (key %s, first on line %d)", e.ID, e.First)
	}
	return b.String()
}

// ParseKeys reads a key list: one key per line, the base64 (standard or
// URL alphabet, padded or not) of 32 random bytes. Blank lines are
// ignored, and '#' starts a comment that runs to the end of the line, so
// a key may be annotated ("<key>  # added 2026-03, ticket OPS-12").
//
// The first key is the sealing key; the others are opening keys only,
// kept while values sealed with them remain (see "Rotation" in the package
// documentation). Each key's ID is KeyID(secret). A key listed twice is
// an error, as is a list without keys. Errors are *KeyError values, which
// name the line and the rule but never the line's text.
func ParseKeys(text string) ([]Key, error) {
	var keys []Key
	first := map[string]int{} // ID → line
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		words := strings.Fields(line)
		switch {
		case len(words) == 0:
			continue
		case len(words) > 1:
			return nil, &KeyError{Line: n, Rule: RuleKeyWords}
		}
		secret, ok := decodeKey(words[0])
		if !ok {
			return nil, &KeyError{Line: n, Rule: RuleKeyBase64}
		}
		if len(secret) != KeySize {
			return nil, &KeyError{Line: n, Rule: RuleKeySize, Size: len(secret)}
		}
		id := KeyID(secret)
		if f, dup := first[id]; dup {
			return nil, &KeyError{Line: n, Rule: RuleKeyDuplicate, First: f, ID: id}
		}
		first[id] = n
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, &KeyError{Rule: RuleKeyNone}
	}
	return keys, nil
}

// decodeKey decodes s in whichever of the four base64 variants accepts
// it. They cannot disagree: the two alphabets share all but two
// characters, which a string uses from one alphabet or the other, and a
// padded decoder refuses unpadded input and the reverse.
func decodeKey(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// NewKeyText returns a new random key as a line for a key list (standard
// base64, no newline), for a front end's key-generating command (a
// "-gen-config-key" flag, say). "head -c 32 /dev/urandom | base64" makes
// an equivalent line.
func NewKeyText() (string, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("sealed: new key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(secret), nil
}
