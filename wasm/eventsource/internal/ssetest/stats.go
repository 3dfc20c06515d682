package ssetest

// KeyStats is the JSON answer of the server's /stats?key=K: what the server
// saw of the connections made under key K. Both the server (native) and the
// wasm tests (which fetch it) use this type.
type KeyStats struct {
	Connects     int       `json:"connects"`
	Disconnects  int       `json:"disconnects"`
	LastEventIDs []string  `json:"lastEventIDs"` // the Last-Event-ID header of each connection
	Conns        []Conn    `json:"conns"`
	Sessions     int       `json:"sessions"` // the sessions POST /renew started
	Renewals     []Renewal `json:"renewals"` // every POST /renew, in order
}

// Renewal is one POST /renew.
type Renewal struct {
	AtMS   float64 `json:"atMS"`   // when it arrived, in ms since the server started
	Status int     `json:"status"` // the status it asked for
}

// Conn describes one connection.
type Conn struct {
	Header    string  `json:"header"`    // its Last-Event-ID header
	Query     string  `json:"query"`     // its lastEventId query parameter
	Heartbeat string  `json:"heartbeat"` // its heartbeat query parameter
	Accept    string  `json:"accept"`    // its Accept header
	Status    int     `json:"status"`    // the status answered
	AtMS      float64 `json:"atMS"`      // when it arrived, in ms since the server started
	Sent      int     `json:"sent"`      // events sent on it (not counting gaps and heartbeats); final once it is closed
	Session   int     `json:"session"`   // the number of the session its cookie carried (see POST /renew); 0 for none
}
