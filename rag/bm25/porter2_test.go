package bm25_test

import (
	"strings"
	"testing"

	"github.com/keel-go/keel/rag/bm25"
)

// TestStemVocabulary checks word→stem pairs taken from the Snowball
// project's published sample vocabulary for the English stemmer
// (snowball-data, english/voc.txt with its english/output.txt), chosen to
// exercise every step: plurals, -ed/-ing with undoubling and e-restoring,
// y→i, the double suffixes of steps 2 and 3, the R2 deletions of step 4
// and the final -e and -ll of step 5.
func TestStemVocabulary(t *testing.T) {
	pairs := []struct{ word, stem string }{
		{"abandoned", "abandon"}, {"abandonment", "abandon"}, {"abasement", "abas"}, {"abatements", "abat"},
		{"abbeys", "abbey"}, {"abdication", "abdic"}, {"abdominal", "abdomin"}, {"abhorred", "abhor"},
		{"abhorrence", "abhorr"}, {"abilities", "abil"}, {"abjectly", "abject"}, {"abjectness", "abject"},
		{"able", "abl"}, {"ablutions", "ablut"}, {"abnegation", "abneg"}, {"abnormality", "abnorm"},
		{"abode", "abod"}, {"abolished", "abolish"}, {"abominably", "abomin"}, {"abominations", "abomin"},
		{"aboriginally", "aborigin"}, {"abortive", "abort"}, {"abridgment", "abridg"}, {"abruptness", "abrupt"},
		{"absolutely", "absolut"}, {"absorbent", "absorb"}, {"absorption", "absorpt"}, {"abstemious", "abstemi"},
		{"abstinence", "abstin"}, {"abstractedly", "abstract"}, {"absurdities", "absurd"}, {"abundantly", "abund"},
		{"abusive", "abus"}, {"abutting", "abut"}, {"aby", "abi"}, {"abysses", "abyss"},
		{"academies", "academi"}, {"acceptable", "accept"}, {"acceptation", "accept"}, {"accessible", "access"},
		{"accessories", "accessori"}, {"accidentally", "accident"}, {"acclivity", "accliv"}, {"accompanied", "accompani"},
		{"accompaniment", "accompani"}, {"accordingly", "accord"}, {"accountabilities", "account"}, {"accountability", "account"},
		{"accrue", "accru"}, {"accumulation", "accumul"}, {"accuracy", "accuraci"}, {"accusative", "accus"},
		{"aching", "ach"}, {"acquiescence", "acquiesc"}, {"acquirement", "acquir"}, {"actively", "activ"},
		{"actress", "actress"}, {"actuality", "actual"}, {"actuated", "actuat"}, {"adaptability", "adapt"},
		{"added", "add"}, {"additionally", "addit"}, {"adhesive", "adhes"}, {"adjective", "adject"},
		{"administrative", "administr"}, {"admiringly", "admir"}, {"admitted", "admit"}, {"adoptedly", "adopt"},
		{"adoption", "adopt"}, {"adventurous", "adventur"}, {"advisability", "advis"}, {"aesthetically", "aesthet"},
		{"affectionately", "affection"}, {"agencies", "agenc"}, {"agreed", "agre"}, {"agreeing", "agre"},
		{"aimlessly", "aimless"}, {"airily", "airili"}, {"airlessness", "airless"}, {"alarmingly", "alarm"},
		{"allegorical", "allegor"}, {"alternately", "altern"}, {"amiability", "amiabl"}, {"analogous", "analog"},
		{"anatomical", "anatom"}, {"angelically", "angel"}, {"anglicanism", "anglican"}, {"annihilation", "annihil"},
		{"annoyances", "annoy"}, {"anticipative", "anticip"}, {"apologetically", "apologet"}, {"appalling", "appal"},
		{"appellation", "appel"}, {"appreciable", "appreci"}, {"appropriateness", "appropri"}, {"approvingly", "approv"},
		{"arbitrarily", "arbitrarili"}, {"archaeologically", "archaeolog"}, {"archaeologists", "archaeolog"},
	}
	for _, p := range pairs {
		if got := bm25.Stem(p.word); got != p.stem {
			t.Errorf("Stem(%q) = %q, want %q", p.word, got, p.stem)
		}
	}
}

// TestStemSpecialCases covers the rules the algorithm's definition states
// with examples of its own: the exception list, the R1 prefixes, and the
// -ing and -eed words left alone.
func TestStemSpecialCases(t *testing.T) {
	tests := []struct{ word, stem string }{
		// exception1
		{"skies", "sky"}, {"skis", "ski"}, {"news", "news"}, {"atlas", "atlas"}, {"only", "onli"}, {"early", "earli"},
		// -ying after one consonant (step 1b)
		{"dying", "die"}, {"lying", "lie"}, {"tying", "tie"}, {"vying", "vie"},
		// words step 1b leaves alone
		{"inning", "inning"}, {"outing", "outing"}, {"evening", "evening"}, {"proceed", "proceed"}, {"exceed", "exceed"}, {"succeed", "succeed"},
		// R1 prefixes
		{"generous", "generous"}, {"communism", "communism"}, {"universal", "universal"}, {"organic", "organic"},
		{"pasted", "paste"}, {"international", "internat"},
		// step 1a
		{"caresses", "caress"}, {"ties", "tie"}, {"cries", "cri"}, {"gas", "gas"}, {"gaps", "gap"}, {"kiwis", "kiwi"},
		// step 1b endings
		{"hopping", "hop"}, {"hoping", "hope"}, {"luxuriating", "luxuri"}, {"feed", "feed"},
		// y handling
		{"cry", "cri"}, {"by", "by"}, {"say", "say"}, {"yes", "yes"}, {"enjoying", "enjoy"},
		// apostrophes, which Stem accepts although the Tokenizer never produces them
		{"'tis", "tis"}, {"dog's", "dog"}, {"dogs'", "dog"},
		// short and non-ASCII words are returned unchanged
		{"", ""}, {"a", "a"}, {"is", "is"}, {"naïve", "naïve"}, {"straße", "straße"},
		// digits are consonants
		{"1990s", "1990s"}, {"covid19", "covid19"},
	}
	for _, tt := range tests {
		if got := bm25.Stem(tt.word); got != tt.stem {
			t.Errorf("Stem(%q) = %q, want %q", tt.word, got, tt.stem)
		}
	}
}

// FuzzStem checks that the stemmer never panics, never lengthens a word,
// keeps words of letters and digits non-empty and made of letters and
// digits. Words made of apostrophes may stem to nothing, as in Snowball:
// an apostrophe, an apostrophe and s loses the leading apostrophe in the
// prelude, then the possessive in step 1a (testdata holds that input).
func FuzzStem(f *testing.F) {
	for _, s := range []string{"running", "'s'", "yyyy", "generalization", "ied", "eedly", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, word string) {
		got := bm25.Stem(word)
		if len(got) > len(word) {
			t.Fatalf("Stem(%q) = %q is longer than the word", word, got)
		}
		alnum := func(s string) bool {
			return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
		}
		if word != "" && alnum(word) && (got == "" || !alnum(got)) {
			t.Fatalf("Stem(%q) = %q", word, got)
		}
	})
}
