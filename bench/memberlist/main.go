// A memberlist (hashicorp/memberlist, Debian's golang-github-hashicorp-memberlist-dev)
// node for bench/kill-detect.ts: DefaultLANConfig on 127.0.0.1:<port>, joins
// <seed> when given, and prints one JSON line per membership event on stdout
// with the wall time in ms, the same shape the locker agents' logs give.
// Usage: memberlist-node <name> <port> [seed]
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

type events struct{ self string }

func emit(kind, self, member string) {
	line, _ := json.Marshal(map[string]interface{}{"type": kind, "id": self, "member": member, "t": time.Now().UnixMilli()})
	fmt.Println(string(line))
}

func (e events) NotifyJoin(n *memberlist.Node)   { emit("alive", e.self, n.Name) }
func (e events) NotifyLeave(n *memberlist.Node)  { emit("dead", e.self, n.Name) }
func (e events) NotifyUpdate(n *memberlist.Node) {}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: memberlist-node <name> <port> [seed]")
		os.Exit(2)
	}
	name := os.Args[1]
	port, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad port:", err)
		os.Exit(2)
	}
	c := memberlist.DefaultLANConfig()
	c.Name = name
	c.BindAddr = "127.0.0.1"
	c.BindPort = port
	c.AdvertiseAddr = "127.0.0.1"
	c.AdvertisePort = port
	c.Events = events{self: name}
	c.Logger = log.New(io.Discard, "", 0)
	m, err := memberlist.Create(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		os.Exit(1)
	}
	if len(os.Args) > 3 {
		if _, err := m.Join([]string{os.Args[3]}); err != nil {
			fmt.Fprintln(os.Stderr, "join:", err)
			os.Exit(1)
		}
	}
	emit("ready", name, name)
	select {}
}
