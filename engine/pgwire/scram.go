package pgwire

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier is what PostgreSQL stores for a SCRAM-SHA-256 password
// (RFC 5802, RFC 7677): salt, iteration count, StoredKey and ServerKey.
// The password itself is not kept.
type scramVerifier struct {
	salt                 []byte
	iterations           int
	storedKey, serverKey []byte
}

func newScramVerifier(password string) (*scramVerifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return nil, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return &scramVerifier{salt: salt, iterations: scramIterations, storedKey: stored[:], serverKey: hmacSHA256(salted, "Server Key")}, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// errBadPassword is the one answer to any failed exchange, so a client
// learns nothing about which step failed.
var errBadPassword = errors.New("password authentication failed")

// scramExchange is one server side of a SCRAM-SHA-256 exchange.
type scramExchange struct {
	v               *scramVerifier
	clientFirstBare string
	serverFirst     string
	nonce           string
	gs2Header       string
}

// first reads client-first-message and returns server-first-message.
func (x *scramExchange) first(clientFirst []byte) (string, error) {
	msg := string(clientFirst)
	// gs2-header: channel binding flag, optional authzid, then the bare message.
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok || (flag != "n" && flag != "y") {
		// "p=…" asks for channel binding, which is not offered.
		return "", fmt.Errorf("%w: unsupported channel binding", errBadPassword)
	}
	_, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return "", errBadPassword
	}
	x.gs2Header = msg[:len(msg)-len(bare)]
	x.clientFirstBare = bare
	var cnonce string
	for _, attr := range strings.Split(bare, ",") {
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			cnonce = v
		}
	}
	if cnonce == "" {
		return "", errBadPassword
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	x.nonce = cnonce + base64.RawStdEncoding.EncodeToString(b)
	x.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", x.nonce, base64.StdEncoding.EncodeToString(x.v.salt), x.v.iterations)
	return x.serverFirst, nil
}

// final checks client-final-message's proof and returns
// server-final-message.
func (x *scramExchange) final(clientFinal []byte) (string, error) {
	msg := string(clientFinal)
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return "", errBadPassword
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	var cb, nonce string
	for _, attr := range strings.Split(withoutProof, ",") {
		if v, ok := strings.CutPrefix(attr, "c="); ok {
			cb = v
		} else if v, ok := strings.CutPrefix(attr, "r="); ok {
			nonce = v
		}
	}
	if cb != base64.StdEncoding.EncodeToString([]byte(x.gs2Header)) || nonce != x.nonce {
		return "", errBadPassword
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return "", errBadPassword
	}
	auth := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	sig := hmacSHA256(x.v.storedKey, auth)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	stored := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(stored[:], x.v.storedKey) != 1 {
		return "", errBadPassword
	}
	return "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(x.v.serverKey, auth)), nil
}
