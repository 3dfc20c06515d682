package session

import "testing"

// BenchmarkVerify is the cost of one request's cookie check.
func BenchmarkVerify(b *testing.B) {
	m, _ := testManager(b, key1, key2)
	_, token, _ := m.Issue("alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyForged is the cost of refusing a forged cookie: the
// same HMAC, so a flood of forgeries costs what a flood of valid cookies
// does.
func BenchmarkVerifyForged(b *testing.B) {
	m, _ := testManager(b, key1)
	_, token, _ := m.Issue("alice")
	bad := token[:len(token)-3] + "AAA"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(bad); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	m, _ := testManager(b, key1)
	b.ReportAllocs()
	for b.Loop() {
		m.Issue("alice")
	}
}
