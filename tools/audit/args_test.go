package audit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keel-go/keel/tools/audit"
)

func TestDigestCanonical(t *testing.T) {
	// canonical is the form the digest is defined over, written by hand.
	const canonical = `{"a":[1,2.50,{"c":true,"d":null}],"b":"x<y \"q\"","é":{}}`
	want := hmacHex(argsKey, canonical)
	same := []string{
		canonical,
		`{"b":"x<y \"q\"","a":[1,2.50,{"d":null,"c":true}],"é":{}}`,
		"{ \"a\" : [ 1 , 2.50 , { \"c\" : true , \"d\" : null } ] ,\n\t\"b\" : \"x\\u003cy \\u0022q\\\"\" , \"\\u00e9\" : { } }\n",
		`{"é":{},"b":"\u0078<\u0079 \"q\"","a":[1,2.50,{"c":true,"d":null}]}`,
	}
	for _, args := range same {
		if got := audit.Digest(argsKey, []byte(args)); got != want {
			t.Errorf("Digest(%s) = %s, want %s (the digest of the canonical form)", args, got, want)
		}
	}
	different := []string{
		`{"a":[2,1,{"c":true,"d":null}],"b":"x<y \"q\"","é":{}}`,          // array order matters
		`{"a":[1,2.5,{"c":true,"d":null}],"b":"x<y \"q\"","é":{}}`,        // numbers as written
		`{"a":[1,2.50,{"c":false,"d":null}],"b":"x<y \"q\"","é":{}}`,      // a value
		`{"a":[1,2.50,{"c":true,"d":null}],"b":"x<y \"q\"","é":{},"z":0}`, // a key
	}
	for _, args := range different {
		if got := audit.Digest(argsKey, []byte(args)); got == want {
			t.Errorf("Digest(%s) equals the digest of different arguments", args)
		}
	}
	if audit.Digest(testKey, []byte(canonical)) == want {
		t.Error("another key gives the same digest")
	}
}

func TestDigestInvalidJSON(t *testing.T) {
	for _, args := range []string{"", "{", `{"a":1}}`, "not json", "\xff\xfe", `{"a":1} {"b":2}`} {
		got := audit.Digest(argsKey, []byte(args))
		if got != hmacHex(argsKey, args) {
			t.Errorf("Digest(%q) = %s, want the HMAC of the raw bytes", args, got)
		}
	}
	// Whitespace around a valid value is insignificant, inside a string it
	// is not.
	if audit.Digest(argsKey, []byte(" 1 ")) != audit.Digest(argsKey, []byte("1")) {
		t.Error("surrounding whitespace changed the digest")
	}
	if audit.Digest(argsKey, []byte(`"a b"`)) == audit.Digest(argsKey, []byte(`"ab"`)) {
		t.Error("whitespace inside a string was ignored")
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		args, want string
	}{
		{`{"amount": 120.5, "recipient": "DE89 3704 0044 0532", "items": [1, 2, 3]}`,
			`{amount:number,recipient:string(19),items:array(3)}`},
		{`{}`, `{}`},
		{`[]`, `array(0)`},
		{`[{"a":1},{"b":[1,2]}]`, `array(2)`},
		{`"secret"`, `string(6)`},
		{`"héllo"`, `string(5)`},
		{`42`, `number`},
		{`true`, `bool`},
		{`null`, `null`},
		{`{"ok":false,"n":null}`, `{ok:bool,n:null}`},
		{`{"a":{"b":{"c":{"d":1,"e":2}}}}`, `{a:{b:{c:object(2)}}}`},
		{`{"alice@example.com":5,"+49 170 1234567":"x","x-request-id":"r","a.b_c":1}`,
			`{key(17):number,key(15):string(1),x-request-id:string(1),a.b_c:number}`},
		{`{"` + strings.Repeat("k", 41) + `":1}`, `{key(41):number}`},
		{``, `empty`},
		{" \n\t", `empty`},
		{`{"a":`, `invalid(5 bytes)`},
		{`{"a":1}}`, `invalid(8 bytes)`},
		{`{"a":1} 2`, `invalid(9 bytes)`},
		{`nope`, `invalid(4 bytes)`},
		{`[1,]`, `invalid(4 bytes)`},
	}
	for _, tt := range tests {
		if got := audit.Summarize([]byte(tt.args)); got != tt.want {
			t.Errorf("Summarize(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestSummarizeHidesValues(t *testing.T) {
	args := `{"iban":"DE89370400440532013000","pin":"4711","note":"call me at +49 170 1234567",
		"amount":98765.43,"nested":{"email":"alice@example.com","list":["topsecret"]}}`
	got := audit.Summarize([]byte(args))
	for _, secret := range []string{"DE89", "4711", "+49", "98765", "alice", "topsecret", "example"} {
		if strings.Contains(got, secret) {
			t.Errorf("summary %q contains %q", got, secret)
		}
	}
}

func TestSummarizeBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"field_` + strings.Repeat("x", i%30) + `":"v"`)
	}
	b.WriteString("}")
	got := audit.Summarize([]byte(b.String()))
	if len(got) != audit.MaxSummaryBytes || !strings.HasSuffix(got, "...") {
		t.Fatalf("summary of %d bytes ending %q, want %d bytes ending in ...", len(got), got[len(got)-10:], audit.MaxSummaryBytes)
	}
	// Deep nesting is counted, not recursed into; beyond the JSON
	// decoder's limit it is invalid.
	deep := strings.Repeat("[", 9000) + strings.Repeat("]", 9000)
	if got := audit.Summarize([]byte(deep)); got != "array(1)" {
		t.Fatalf("Summarize(deep) = %q", got)
	}
	deepObj := `{"a":` + strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9001)
	if got := audit.Summarize([]byte(deepObj)); got != "{a:{a:{a:object(1)}}}" {
		t.Fatalf("Summarize(deep object) = %q", got)
	}
	tooDeep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	if got := audit.Summarize([]byte(tooDeep)); got != "invalid(40000 bytes)" {
		t.Fatalf("Summarize(too deep) = %q", got)
	}
}

func TestRecordSetArgs(t *testing.T) {
	args := []byte(`{"order": "ord-1", "amount": 10}`)
	var r audit.Record
	r.SetArgs(argsKey, args, false)
	if r.Args != nil || r.ArgsDigest != audit.Digest(argsKey, args) || r.ArgsSummary != "{order:string(5),amount:number}" {
		t.Fatalf("without opt-in: %+v", r)
	}
	r.SetArgs(argsKey, args, true)
	if string(r.Args) != string(args) {
		t.Fatalf("with opt-in: args %s", r.Args)
	}
	args[2] = 'X'
	if r.Args[2] == 'X' {
		t.Fatal("Args shares the caller's buffer")
	}
	r.SetArgs(argsKey, []byte("{oops\xff"), true)
	var s string
	if err := json.Unmarshal(r.Args, &s); err != nil || s != "{oops\ufffd" {
		t.Fatalf("invalid JSON kept as %s (%v)", r.Args, err)
	}
	if !strings.HasPrefix(r.ArgsSummary, "invalid(") {
		t.Fatalf("summary %q", r.ArgsSummary)
	}
}

func hmacHex(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
