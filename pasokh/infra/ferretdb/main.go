// Command ferretdb runs FerretDB (MongoDB wire protocol) on SQLite for Pasokh's local runs and tests.
//
// It embeds FerretDB as a library, which avoids the generated version file that a plain
// `go install` of FerretDB's own command lacks (FerretDB issue #2982). Built by pasokh/infra/ferretdb.py.
package main

import (
	"context"
	"flag"
	"log"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URL; must end with /")
	flag.Parse()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Handler:   "sqlite",
		SQLiteURL: *sqliteURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	f.Run(ctx)
}
