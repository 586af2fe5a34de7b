package grpcapi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
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
	var s summary
	s.message(m.ProtoReflect())
	return truncateText(s.out.String(), fsm.MaxAuditText)
}

// summary writes a request's fields as path=value pairs.
type summary struct {
	out strings.Builder
	// path is the path of the field being written, e.g. spec.source.kind.
	path []byte
}

// full reports whether the summary is already too long to keep whole: the
// rest of a large request is not walked.
func (s *summary) full() bool { return s.out.Len() > fsm.MaxAuditText }

// pair writes the current path with value.
func (s *summary) pair(value string) {
	if s.out.Len() > 0 {
		s.out.WriteByte(' ')
	}
	s.out.Write(s.path)
	s.out.WriteByte('=')
	s.out.WriteString(value)
}

// message writes the set fields of m under the current path.
func (s *summary) message(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len() && !s.full(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		parent := len(s.path)
		s.path = append(s.path, fd.Name()...)
		field := len(s.path)
		v := m.Get(fd)
		switch {
		case isSecret(fd):
			s.pair(redacted)
		case fd.IsMap():
			var keys []protoreflect.MapKey
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				s.path = append(append(append(s.path[:field], '['), k.String()...), ']')
				if secretValues[fd.FullName()] {
					s.pair(redacted)
				} else {
					s.value(fd.MapValue(), v.Map().Get(k))
				}
			}
		case fd.IsList():
			for j := 0; j < v.List().Len() && !s.full(); j++ {
				s.path = append(strconv.AppendInt(append(s.path[:field], '['), int64(j), 10), ']')
				s.value(fd, v.List().Get(j))
			}
		default:
			s.value(fd, v)
		}
		s.path = s.path[:parent]
	}
}

// value writes one value of field fd (not a list or map itself) under the
// current path.
func (s *summary) value(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch m := v.Message().Interface().(type) {
		case *durationpb.Duration:
			s.pair(m.AsDuration().String())
		case *timestamppb.Timestamp:
			s.pair(m.AsTime().UTC().Format(time.RFC3339))
		default:
			s.path = append(s.path, '.')
			s.message(v.Message())
		}
	case protoreflect.BytesKind:
		s.pair("<" + strconv.Itoa(len(v.Bytes())) + " bytes>")
	case protoreflect.StringKind:
		s.pair(quoteIfNeeded(v.String()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			s.pair(string(ev.Name()))
		} else {
			s.pair(strconv.Itoa(int(v.Enum())))
		}
	default:
		s.pair(v.String())
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
