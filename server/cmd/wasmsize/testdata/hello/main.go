// Command hello is the program wasmsize's test builds to WebAssembly.
package main

import "fmt"

func main() { fmt.Println("hello") }
