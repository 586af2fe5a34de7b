package acl

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Names of the secrets the nodes use; SecretSchemas says their keys.
const (
	// SecretISCSICHAP holds the CHAP credentials of the iSCSI target.
	SecretISCSICHAP = "iscsi-chap"
	// SecretNDMP holds the credentials DMAs log in to the NDMP server with.
	SecretNDMP = "ndmp"
)

// SecretSchema says which keys a secret takes.
type SecretSchema struct {
	Name     string
	Required []string
	Optional []string
	// Together lists keys that are set together or not at all.
	Together []string
	// Help says what the secret is for.
	Help string
}

// SecretSchemas are the secrets the nodes know, by name.
var SecretSchemas = []SecretSchema{
	{Name: SecretISCSICHAP, Required: []string{"user", "secret"}, Optional: []string{"mutual-user", "mutual-secret"}, Together: []string{"mutual-user", "mutual-secret"},
		Help: "CHAP credentials every node's iSCSI target asks initiators for (mutual-user and mutual-secret: what the target answers a mutual challenge with); replaces -iscsi-chap-*"},
	{Name: SecretNDMP, Required: []string{"user", "password"},
		Help: "the user and password DMAs log in to every node's NDMP server with; replaces -ndmp-user and -ndmp-password"},
}

// maxSecretValue bounds a value: credentials, not files.
const maxSecretValue = 255

// CheckSecret refuses a secret the nodes would not know how to use: an
// unknown name, a missing, unknown or empty key, or a value that is too
// long or holds control characters.
func CheckSecret(name string, values map[string]string) error {
	i := slices.IndexFunc(SecretSchemas, func(s SecretSchema) bool { return s.Name == name })
	if i < 0 {
		var names []string
		for _, s := range SecretSchemas {
			names = append(names, s.Name)
		}
		return fmt.Errorf("unknown secret %q: want one of %s", name, strings.Join(names, ", "))
	}
	s := SecretSchemas[i]
	for _, k := range s.Required {
		if _, ok := values[k]; !ok {
			return fmt.Errorf("secret %s: %s is required (keys: %s)", name, k, s.keys())
		}
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v := values[k]
		switch {
		case !slices.Contains(s.Required, k) && !slices.Contains(s.Optional, k):
			return fmt.Errorf("secret %s: unknown key %q (keys: %s)", name, k, s.keys())
		case v == "":
			return fmt.Errorf("secret %s: %s is empty", name, k)
		case len(v) > maxSecretValue:
			return fmt.Errorf("secret %s: %s is %d bytes, more than %d", name, k, len(v), maxSecretValue)
		case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return fmt.Errorf("secret %s: %s holds a control character", name, k)
		}
	}
	set := 0
	for _, k := range s.Together {
		if _, ok := values[k]; ok {
			set++
		}
	}
	if set != 0 && set != len(s.Together) {
		return fmt.Errorf("secret %s: %s go together", name, strings.Join(s.Together, " and "))
	}
	return nil
}

func (s SecretSchema) keys() string {
	out := slices.Clone(s.Required)
	for _, k := range s.Optional {
		out = append(out, "["+k+"]")
	}
	return strings.Join(out, " ")
}
