// Command memtarget serves an in-memory LUN through the iSCSI target, to
// run libiscsi's tools against during development:
//
//	go run ./iscsi/internal/memtarget -listen 127.0.0.1:3260
//	iscsi-test-cu --test=iSCSI.* iscsi://127.0.0.1:3260/iqn.2026-11.io.ferry:mem/0
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/ferry-san/ferry/iscsi"
	"github.com/ferry-san/ferry/iscsi/internal/memlun"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3260", "address to listen on")
	iqn := flag.String("iqn", "iqn.2026-11.io.ferry:mem", "target name")
	blocks := flag.Int("blocks", 131072, "LUN size in 512-byte blocks")
	chapUser := flag.String("chap-user", "", "CHAP user (empty: no CHAP)")
	chapSecret := flag.String("chap-secret", "", "CHAP secret")
	debug := flag.Bool("debug", false, "debug logging")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg := iscsi.DefaultConfig()
	cfg.TargetName, cfg.Server, cfg.Logger = *iqn, memlun.New(*blocks), log
	if *chapUser != "" {
		cfg.CHAP = &iscsi.CHAPConfig{User: *chapUser, Secret: *chapSecret}
	}
	t, err := iscsi.NewTarget(cfg)
	if err != nil {
		log.Error("target", "err", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log.Info("serving", "addr", ln.Addr(), "iqn", *iqn)
	go func() {
		<-ctx.Done()
		// Initiators get a few seconds to log out before the target stops.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := t.Shutdown(sctx); err != nil {
			log.Warn("shutdown", "err", err)
		}
	}()
	if err := t.Serve(context.Background(), ln); err != nil && !errors.Is(err, iscsi.ErrClosed) {
		log.Error("serve", "err", err)
	}
	<-ctx.Done()
	t.Close()
}
