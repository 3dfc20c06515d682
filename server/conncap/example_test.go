package conncap_test

import (
	"fmt"
	"io"
	"net"

	"github.com/ssewasm/ssewasm/server/conncap"
)

// A listener capped at one connection: a second client is closed at
// once, while the first is served.
func Example() {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ln := conncap.New(tcp, 1, func() { fmt.Println("refused a connection over the cap") })
	defer ln.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	first, _ := net.Dial("tcp", tcp.Addr().String())
	defer first.Close()
	served := <-accepted
	fmt.Println("open:", ln.Open())

	second, _ := net.Dial("tcp", tcp.Addr().String())
	defer second.Close()
	_, err = second.Read(make([]byte, 1))
	fmt.Println("second client:", err == io.EOF)

	served.Close()
	fmt.Println("open:", ln.Open())
	// Output:
	// open: 1
	// refused a connection over the cap
	// second client: true
	// open: 0
}
