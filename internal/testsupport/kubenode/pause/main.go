package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// As PID 1 of its namespace the process gets no default signal
	// handling: without this handler a SIGTERM would be ignored and every
	// Pod's stop would wait for its grace period to end in SIGKILL.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
