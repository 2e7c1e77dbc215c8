package tools

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"

	"github.com/keel-go/keel/llm"
)

// Tainted reports whether msgs hold untrusted third-party content: a tool
// result, or a part explicitly marked llm.Untrusted (retrieved documents,
// uploads, template variables filled from outside data all are). The
// user's own typed text (default provenance) does not taint: policies
// already judge the principal, and the threat is instructions hidden in
// content the user did not write. Agents use this by default; see
// AgentConfig.Taint to choose otherwise.
func Tainted(msgs []llm.Message) bool {
	for _, m := range msgs {
		if m.Role == llm.RoleTool {
			return true
		}
		for _, p := range m.Parts {
			if p.Provenance == llm.Untrusted {
				return true
			}
		}
	}
	return false
}

// ConversationDigest returns a SHA-256 digest of msgs (roles, content,
// provenance, tool calls and results), length-prefixed so no two
// conversations share one. Approvals are bound to it, so a conversation
// edited after a proposal cannot carry that proposal's approval.
func ConversationDigest(msgs []llm.Message) string {
	h := sha256.New()
	put := func(s string) { putString(h, s) }
	put("keel/tools/conversation/v1")
	for _, m := range msgs {
		put(string(m.Role))
		put(m.Name)
		put(m.ToolCallID)
		put(m.Refusal)
		put(strconv.Itoa(len(m.Parts)))
		for _, p := range m.Parts {
			put(strconv.Itoa(int(p.Kind)))
			put(p.Text)
			put(p.ImageURL)
			put(string(p.ImageData))
			put(p.Provenance.Resolve(m.Role).String())
			put(p.Source)
		}
		put(strconv.Itoa(len(m.ToolCalls)))
		for _, c := range m.ToolCalls {
			put(c.ID)
			put(c.Name)
			put(c.Arguments)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func putString(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}
