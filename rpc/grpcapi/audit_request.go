package grpcapi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
)

// redacted stands in for a value the audit trail must not keep.
const redacted = "<redacted>"

// secretWords are the words of a field's name (split at '_') that mark
// its value secret wherever it appears: a request added later that carries
// a password, a key or a token is redacted without anyone remembering to.
var secretWords = []string{"secret", "secrets", "password", "passphrase", "token", "tokens", "key", "keys", "credential", "credentials", "private"}

// notSecret are field names made of secret words that name no secret.
var notSecret = map[protoreflect.Name]bool{"idempotency_key": true}

// secretValues are maps whose keys are names and whose values are secrets:
// the keys are kept, the values redacted.
var secretValues = map[protoreflect.FullName]bool{"ferry.v1.SetSecretRequest.values": true}

// isSecret reports whether a field's value is never to be recorded.
func isSecret(fd protoreflect.FieldDescriptor) bool {
	if notSecret[fd.Name()] {
		return false
	}
	for w := range strings.SplitSeq(string(fd.Name()), "_") {
		if slices.Contains(secretWords, w) {
			return true
		}
	}
	return false
}

// requestSummary is what the audit trail keeps of a request: its set
// scalar fields (nested ones by their path) as path=value, in field-number
// order (map entries by key), secrets redacted (isSecret, secretValues),
// bytes as their length, at most fsm.MaxAuditText bytes. A request that is
// not a protobuf message (none is) is summarised by its type.
func requestSummary(req any) string {
	m, ok := req.(proto.Message)
	if !ok || m == nil {
		if req == nil {
			return ""
		}
		return fmt.Sprintf("%T", req)
	}
	var parts []string
	summarize(&parts, "", m.ProtoReflect())
	return truncateText(strings.Join(parts, " "), fsm.MaxAuditText)
}

// summarize appends the set fields of m under the path prefix.
func summarize(parts *[]string, prefix string, m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		path := prefix + string(fd.Name())
		v := m.Get(fd)
		switch {
		case isSecret(fd):
			*parts = append(*parts, path+"="+redacted)
		case fd.IsMap():
			var keys []protoreflect.MapKey
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				p := path + "[" + k.String() + "]"
				if secretValues[fd.FullName()] {
					*parts = append(*parts, p+"="+redacted)
					continue
				}
				summarizeValue(parts, p, fd.MapValue(), v.Map().Get(k))
			}
		case fd.IsList():
			for j := range v.List().Len() {
				summarizeValue(parts, fmt.Sprintf("%s[%d]", path, j), fd, v.List().Get(j))
			}
		default:
			summarizeValue(parts, path, fd, v)
		}
	}
}

// summarizeValue appends one value of field fd (not a list or map itself).
func summarizeValue(parts *[]string, path string, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch m := v.Message().Interface().(type) {
		case *durationpb.Duration:
			*parts = append(*parts, path+"="+m.AsDuration().String())
		case *timestamppb.Timestamp:
			*parts = append(*parts, path+"="+m.AsTime().UTC().Format("2006-01-02T15:04:05Z07:00"))
		default:
			summarize(parts, path+".", v.Message())
		}
	case protoreflect.BytesKind:
		*parts = append(*parts, fmt.Sprintf("%s=<%d bytes>", path, len(v.Bytes())))
	case protoreflect.StringKind:
		*parts = append(*parts, path+"="+quoteIfNeeded(v.String()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			*parts = append(*parts, path+"="+string(ev.Name()))
		} else {
			*parts = append(*parts, fmt.Sprintf("%s=%d", path, v.Enum()))
		}
	default:
		*parts = append(*parts, path+"="+v.String())
	}
}

// quoteIfNeeded quotes s when it would not read as one word.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '=' || !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// truncateText cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
