// Command ferretdb runs FerretDB (MongoDB wire protocol) for Pasokh's local runs and tests, on SQLite
// (the default) or on PostgreSQL (opt-in, PASOKH_LOCAL_MONGO=ferretdb-postgresql).
//
// It embeds FerretDB as a library, which avoids the generated version file that a plain
// `go install` of FerretDB's own command lacks (FerretDB issue #2982). Built by pasokh/infra/mongo.py.
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
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URL; must end with /")
	// pool_max_conns must exceed the clients' total maxPoolSize: an update holds two pool
	// connections, and at the limit FerretDB deadlocks (see docs/infrastructure.md).
	postgresqlURL := flag.String("postgresql-url", "", "e.g. postgres://ferret@127.0.0.1:5432/ferretdb?pool_max_conns=400")
	flag.Parse()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *addr},
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *postgresqlURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	f.Run(ctx)
}
