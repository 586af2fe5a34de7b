package acl

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// A token's secret is TokenPrefix and the unpadded URL-safe base64 of
// tokenBytes random bytes: 49 characters that say what they are when
// they turn up in a shell history or a leaked file.
const (
	TokenPrefix = "ferry_"
	tokenBytes  = 32
	tokenLen    = len(TokenPrefix) + (tokenBytes*8+5)/6
)

// Hash is the SHA-256 of a token's random bytes: all the state keeps.
type Hash [sha256.Size]byte

// ErrMalformed marks a string that cannot be a token.
var ErrMalformed = errors.New("malformed ACL token")

// NewToken makes a token: its secret (to show once) and its hash (to keep).
func NewToken() (secret string, h Hash, err error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Hash{}, fmt.Errorf("token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), sha256.Sum256(b[:]), nil
}

// ParseToken checks a token's form and returns its hash. Its errors never
// repeat the input: a mistyped token is still mostly a secret.
func ParseToken(s string) (Hash, error) {
	if !strings.HasPrefix(s, TokenPrefix) {
		return Hash{}, fmt.Errorf("%w: it does not start with %q", ErrMalformed, TokenPrefix)
	}
	if len(s) != tokenLen {
		return Hash{}, fmt.Errorf("%w: %d characters, want %d", ErrMalformed, len(s), tokenLen)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s[len(TokenPrefix):])
	if err != nil || len(b) != tokenBytes {
		return Hash{}, fmt.Errorf("%w: not %d bytes of URL-safe base64", ErrMalformed, tokenBytes)
	}
	return sha256.Sum256(b), nil
}

// AuthorizationHeader is the gRPC metadata key a token travels in, as
// "Bearer TOKEN".
const AuthorizationHeader = "authorization"

// BearerValue is the AuthorizationHeader value that carries token.
func BearerValue(token string) string { return "Bearer " + token }

// TokenFromHeader finds the token in a call's AuthorizationHeader values:
// "" when there are none. More than one value, or one that is not
// "Bearer TOKEN", is malformed.
func TokenFromHeader(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("%w: %d %s headers, want one", ErrMalformed, len(values), AuthorizationHeader)
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	// Trimmed before the check: "Bearer " and spaces is no token either,
	// and must not pass for a call that sent none.
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", fmt.Errorf("%w: the %s header is not \"Bearer TOKEN\"", ErrMalformed, AuthorizationHeader)
	}
	return tok, nil
}
