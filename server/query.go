package main

import (
	"fmt"
	"net/url"
)

// parseQuery is url.ParseQuery with an error that tells the client what
// went wrong; unlike r.URL.Query it does not ignore malformed pairs.
func parseQuery(raw string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("the query string is malformed (%v): percent-encode the values", err)
	}
	return q, nil
}
