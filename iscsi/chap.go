package iscsi

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// chapMD5 is the CHAP_A algorithm number of MD5, the only one RFC 7143
// requires.
const chapMD5 = "5"

// chapChallengeLength is the size of the target's challenge; RFC 7143
// 12.1.3 asks for at least as many bytes as the hash.
const chapChallengeLength = 16

// chapState walks one-way and mutual CHAP (RFC 1994, RFC 7143 12.1.3).
type chapState struct {
	cfg       *CHAPConfig
	id        byte
	challenge []byte
	// sentChallenge is set once CHAP_A was answered; done once the
	// initiator proved itself.
	sentChallenge, done bool
}

// step consumes the CHAP keys of one login PDU and returns the target's
// keys. An error is an authentication failure.
func (c *chapState) step(keys map[string]string) ([]pdu.KV, error) {
	if !c.sentChallenge {
		algs, ok := keys["CHAP_A"]
		if !ok {
			return nil, nil
		}
		if !slices.Contains(strings.Split(algs, ","), chapMD5) {
			return nil, initiatorError(pdu.DetailAuthFailure, "CHAP_A %q lacks MD5", algs)
		}
		var b [1 + chapChallengeLength]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, &keyError{class: pdu.StatusTargetError, detail: pdu.DetailOutOfResources, msg: err.Error()}
		}
		c.id, c.challenge = b[0], b[1:]
		c.sentChallenge = true
		return []pdu.KV{{Key: "CHAP_A", Value: chapMD5}, {Key: "CHAP_I", Value: strconv.Itoa(int(c.id))},
			{Key: "CHAP_C", Value: "0x" + hex.EncodeToString(c.challenge)}}, nil
	}
	name, resp := keys["CHAP_N"], keys["CHAP_R"]
	if resp == "" {
		return nil, initiatorError(pdu.DetailAuthFailure, "CHAP_R missing")
	}
	r, ok := decodeBinary(resp)
	want := chapResponse(c.id, c.cfg.Secret, c.challenge)
	if !ok || name != c.cfg.User || !bytes.Equal(r, want) {
		return nil, initiatorError(pdu.DetailAuthFailure, "CHAP response of %q does not match", name)
	}
	c.done = true
	idStr, chal := keys["CHAP_I"], keys["CHAP_C"]
	if idStr == "" && chal == "" {
		return nil, nil
	}
	// Mutual CHAP: the initiator challenges the target in turn.
	id, err := strconv.ParseUint(idStr, 0, 8)
	ch, ok := decodeBinary(chal)
	switch {
	case c.cfg.MutualSecret == "":
		return nil, initiatorError(pdu.DetailAuthFailure, "mutual CHAP asked but not configured")
	case err != nil || !ok || len(ch) == 0:
		return nil, initiatorError(pdu.DetailAuthFailure, "mutual CHAP_I %q / CHAP_C malformed", idStr)
	case bytes.Equal(ch, c.challenge):
		// A reflected challenge would let the initiator learn our answer
		// to our own question.
		return nil, initiatorError(pdu.DetailAuthFailure, "mutual CHAP challenge reflects the target's")
	}
	return []pdu.KV{{Key: "CHAP_N", Value: c.cfg.MutualUser},
		{Key: "CHAP_R", Value: "0x" + hex.EncodeToString(chapResponse(byte(id), c.cfg.MutualSecret, ch))}}, nil
}

// chapResponse is MD5(id || secret || challenge) (RFC 1994 4.1).
func chapResponse(id byte, secret string, challenge []byte) []byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	return h.Sum(nil)
}

// decodeBinary decodes a binary value: 0x hex or 0b base64 (RFC 7143 6.1).
func decodeBinary(s string) ([]byte, bool) {
	switch {
	case len(s) > 2 && strings.EqualFold(s[:2], "0x"):
		b, err := hex.DecodeString(s[2:])
		return b, err == nil
	case len(s) > 2 && strings.EqualFold(s[:2], "0b"):
		b, err := base64.StdEncoding.DecodeString(s[2:])
		return b, err == nil
	}
	return nil, false
}
