package main

import (
	"fmt"
	"net/http"
)

// knownMethods are the methods some route answers; any other gets 501
// before routing, so that no handler sees a made-up method (which
// go-app's handler would answer with a page).
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodOptions: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true, // 405 from their routes
}

// refuseUnknownMethods answers 501 Not Implemented to a method no route
// knows, with the method clipped in the message.
func refuseUnknownMethods(next http.Handler, ref *refusals) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !knownMethods[r.Method] {
			ref.add(refusedMethod)
			http.Error(w, fmt.Sprintf("method %s is not implemented: use GET, or POST for /publish", clipText(r.Method, 16)), http.StatusNotImplemented)
			return
		}
		next.ServeHTTP(w, r)
	})
}
