// Command nginx stands in for nginx in the web server images critest
// pulls (e2e-test-images/nginx, hostnet-nginx; see
// testdata/critest/registry): what critest checks of them is that GET /
// on $NGINX_PORT answers 200, that the master process is named nginx
// (pidof nginx), that its command line says "master process" and that
// it writes its pid to /var/run/nginx.pid.
package main

import (
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// title is nginx's master process title (its argv after setproctitle).
const title = "nginx: master process nginx -g daemon off;"

func main() {
	log.SetFlags(0)
	if len(os.Args) != 1 || os.Args[0] != title {
		// Re-exec the same file under nginx's process title: comm stays
		// the file's name, /proc/self/cmdline becomes the title.
		exe, err := os.Executable()
		if err != nil {
			log.Fatal(err)
		}
		log.Fatal(syscall.Exec(exe, []string{title}, os.Environ()))
	}
	port := os.Getenv("NGINX_PORT")
	if port == "" {
		port = "80"
	}
	root := "/usr/share/nginx/html"
	srv := &http.Server{Addr: ":" + port, Handler: http.FileServer(http.Dir(root)), ReadHeaderTimeout: 10 * time.Second}
	if err := os.WriteFile("/var/run/nginx.pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	go func() {
		<-sig
		os.Exit(0)
	}()
	log.Fatal(srv.ListenAndServe())
}
