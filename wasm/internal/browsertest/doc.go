// Package browsertest runs a package's wasm tests in headless Chromium
// through wasmbrowsertest, from a native test of the same package. It is
// for tests only, and exists in native builds only.
//
// A package whose browser code must be tested in a real browser has two
// kinds of tests: *_js_test.go files (build tag js && wasm) that run in
// the browser, and a native driver that starts what they need and runs
// them:
//
//	//go:build !(js && wasm)
//
//	func TestBrowser(t *testing.T) {
//		browsertest.Run(t, func(t *testing.T) []string {
//			srv := httptest.NewServer(handler) // with CORS: the test page has its own origin
//			t.Cleanup(srv.Close)
//			return []string{"MY_TEST_URL=" + srv.URL}
//		})
//	}
//
// The wasm tests read MY_TEST_URL with os.Getenv.
package browsertest
