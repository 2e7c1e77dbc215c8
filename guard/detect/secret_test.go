package detect

import (
	"slices"
	"strings"
	"testing"
)

// Synthetic credentials in each vendor's format; none is a real key.
const (
	secAWSKey       = "AKIAZ3MHT6W2XQ4PLN7K"
	secGitHubPAT    = "ghp_R8mQ2vX7kL4pN9sT1wY6zB3cF5hJ0dG2aE7u"
	secGitHubFine   = "github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW"
	secGitLabPAT    = "glpat-x8Kq2Lm9Np4Rs7Tv1Wy3"
	secSlackBot     = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
	secStripeLive   = "sk_live_4eC39HqLyjWDarjtT1zdp7dc9Qw"
	secOpenAIProj   = "sk-proj-Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kL9nP2rS5uV8xA1dG4iJ7lO0"
	secAnthropicKey = "sk-ant-api03-Xy7Kp2Lm9Qr4St8Vw1Zb5Cd3Fg6Hj0Kn2Mp4Qs7Tv9Wx1Yz3Ab5Cd7Ef9Gh2Jk4Lm6Np8Qr0St2Uv4Wx6Yz8Ab0Cd2Ef4Gh6Jk8LmAA"
	secGoogleKey    = "AIzaSyD4k9Lm2Np5Qr8St1Vw4Yz7Bc0Ef3Hj6Km"
	secJWTToken     = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

const secPEMBlock = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBkYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY3AAAAA==\n-----END OPENSSH PRIVATE KEY-----"

// TestSecretDetectors covers each secret detector: true positives with
// exact spans, documentation examples and near misses that must not
// match.
func TestSecretDetectors(t *testing.T) {
	tests := []struct {
		name string
		d    Detector
		text string
		want []piiFound
	}{
		{"aws", APIKeys(), "aws_access_key_id = " + secAWSKey, []piiFound{{TypeAWSAccessKey, secAWSKey}}},
		{"aws documentation example", APIKeys(), "AKIAIOSFODNN7EXAMPLE", nil},
		{"aws wrong length", APIKeys(), "AKIAZ3MHT6W2XQ4PLN7", nil},
		{"github classic and fine-grained", APIKeys(), secGitHubPAT + " " + secGitHubFine, []piiFound{{TypeGitHubToken, secGitHubPAT}, {TypeGitHubToken, secGitHubFine}}},
		{"github placeholder", APIKeys(), "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", nil},
		{"gitlab", APIKeys(), "token " + secGitLabPAT + ".", []piiFound{{TypeGitLabToken, secGitLabPAT}}},
		{"slack", APIKeys(), "SLACK=" + secSlackBot, []piiFound{{TypeSlackToken, secSlackBot}}},
		{"slack too short", APIKeys(), "xoxb-1234-abc", nil},
		{"stripe live", APIKeys(), `"` + secStripeLive + `"`, []piiFound{{TypeStripeKey, secStripeLive}}},
		{"stripe too short", APIKeys(), "sk_live_abc123", nil},
		{"openai", APIKeys(), "OPENAI_API_KEY=" + secOpenAIProj, []piiFound{{TypeOpenAIKey, secOpenAIProj}}},
		{"anthropic", APIKeys(), "x-api-key: " + secAnthropicKey, []piiFound{{TypeAnthropicKey, secAnthropicKey}}},
		{"sk- that is a word", APIKeys(), "we use sk-learn and sk-this-is-not-a-real-key-at-all-honestly", nil},
		{"google", APIKeys(), "key=" + secGoogleKey + "&x=1", []piiFound{{TypeGoogleAPIKey, secGoogleKey}}},
		{"google wrong length", APIKeys(), "AIzaSyD4k9Lm2Np5Qr8St1Vw4Yz7Bc0Ef3Hj6K AIzaSyD4k9Lm2Np5Qr8St1Vw4Yz7Bc0Ef3Hj6Km9", nil},
		{"jwt", JWT(), "Authorization: Bearer " + secJWTToken, []piiFound{{TypeJWT, secJWTToken}}},
		{"jwt header without alg", JWT(), "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln", nil},
		{"jwt two parts", JWT(), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", nil},
		{"pem", PrivateKey(), "key:\n" + secPEMBlock + "\nbye", []piiFound{{TypePrivateKey, secPEMBlock}}},
		{"pem unterminated", PrivateKey(), "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n\nthat is all", []piiFound{
			{TypePrivateKey, "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7"}}},
		{"pem public key", PrivateKey(), "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----", nil},
		{"password in url", Passwords(), "postgres://app:s3cr3t!x@db.internal:5432/app", []piiFound{{TypePassword, "s3cr3t!x"}}},
		{"password in url placeholder", Passwords(), "postgres://app:${DB_PASSWORD}@db/app https://u:****@x.io", nil},
		{"password assignment", Passwords(), `password: "Tr0ub4dor&3", DB_PASSWORD=hunter2hunter2`, []piiFound{{TypePassword, "Tr0ub4dor&3"}, {TypePassword, "hunter2hunter2"}}},
		{"password is", Passwords(), "my password is Hunter22!", []piiFound{{TypePassword, "Hunter22!"}}},
		{"password prose", Passwords(), "reset your password and try again; the password is incorrect; Password: ********", nil},
		{"keyword secret", KeywordSecrets(), "api token: 9f8e7d6c5b4a39281706f5e4d3c2b1a0", []piiFound{{TypeSecret, "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}}},
		{"keyword secret after is", KeywordSecrets(), "the signing key is 7Hq2Vz9LmX4pR8sW1nB6", []piiFound{{TypeSecret, "7Hq2Vz9LmX4pR8sW1nB6"}}},
		{"bearer token", KeywordSecrets(), "Authorization: Bearer 8Zk3Lq9Wm2Xp7Rv4Ts1Yn6", []piiFound{{TypeSecret, "8Zk3Lq9Wm2Xp7Rv4Ts1Yn6"}}},
		{"keyword secret low entropy or no digits", KeywordSecrets(), "token: aaaaaaaabbbbbbbb1111 secret: correcthorsebatterystaple key: short1", nil},
		{"keyword secret example", KeywordSecrets(), "API_KEY=your-api-key-example-1234567890", nil},
		{"vendor key is not a keyword secret", KeywordSecrets(), "token: " + secGitHubPAT, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := piiScanFound(tt.d, tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q:\n got %v\nwant %v", tt.text, got, tt.want)
			}
		})
	}
}

// TestSecretsInOnePass runs every secret through the full scanner at
// once, next to PII, and checks nothing is lost or duplicated.
func TestSecretsInOnePass(t *testing.T) {
	values := map[string]string{
		secAWSKey: TypeAWSAccessKey, secGitHubPAT: TypeGitHubToken, secGitLabPAT: TypeGitLabToken,
		secSlackBot: TypeSlackToken, secStripeLive: TypeStripeKey, secOpenAIProj: TypeOpenAIKey,
		secAnthropicKey: TypeAnthropicKey, secGoogleKey: TypeGoogleAPIKey, secJWTToken: TypeJWT, secPEMBlock: TypePrivateKey,
	}
	var sb strings.Builder
	var want []piiFound
	for v, typ := range values {
		sb.WriteString("Customer ann@example.org pasted ")
		sb.WriteString(v)
		sb.WriteString(" into the chat.\n")
		want = append(want, piiFound{TypeEmail, "ann@example.org"}, piiFound{typ, v})
	}
	s, err := NewScanner(ScannerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := piiScanFound(s, sb.String())
	cmp := func(a, b piiFound) int { return strings.Compare(a.typ+a.text, b.typ+b.text) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
