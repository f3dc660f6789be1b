/* The test RTSP camera (tests/sessions/rtsp_server.c) as a child process,
 * for the camera tests and the session benchmark: started on a free loopback
 * port, stopped by its PID, every wait bounded.
 *
 *     struct rtsp_server s;
 *     if (rtsp_server_start("build/tests/sessions/rtsp_server", "/tmp/x/cam.mp4", &s) < 0) ...;
 *     ... rtsp://127.0.0.1:<s.port>/cam ...
 *     rtsp_server_stop(&s, SIGTERM);      // or SIGKILL: the camera dies abruptly
 */
#ifndef FR_TEST_RTSP_FIXTURE_H
#define FR_TEST_RTSP_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "facerec/base.h"

/* A loopback TCP port free at the time of the call, or -1. */
static inline int rtsp_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

struct rtsp_server { pid_t pid; int port; };

/* Waits up to ms for pid to exit (reaped); 0 when it did. */
static inline int rtsp_wait_exit(pid_t pid, int ms) {
    double end = fr_time_ms() + ms;
    do {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return 0;
        usleep(10000);
    } while (fr_time_ms() < end);
    return -1;
}

/* Sends sig (after SIGCONT, in case the server was stopped), waits up to
 * 3 s, then SIGKILL; the child is reaped either way. */
static inline void rtsp_server_stop(struct rtsp_server *s, int sig) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGCONT);
    kill(s->pid, sig);
    if (rtsp_wait_exit(s->pid, 3000) < 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = -1;
}

/* Starts the server (stderr to /dev/null) serving video at
 * rtsp://127.0.0.1:<s->port>/cam and waits (5 s at most) for its READY line.
 * On failure nothing is left running and s->pid is -1. */
static inline int rtsp_server_start(const char *server, const char *video, struct rtsp_server *s) {
    int fds[2];
    s->pid = -1;
    s->port = rtsp_free_port();
    if (s->port <= 0 || pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) { close(fds[0]); close(fds[1]); return -1; }
    if (pid == 0) {
        char port[16];
        snprintf(port, sizeof port, "%d", s->port);
        dup2(fds[1], 1);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, 2);
        close(fds[0]);
        execl(server, server, "--port", port, "--file", video, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    char buf[64] = { 0 };
    size_t n = 0;
    struct pollfd p = { .fd = fds[0], .events = POLLIN };
    double end = fr_time_ms() + 5000;
    while (n < sizeof buf - 1 && !strstr(buf, "READY") && fr_time_ms() < end) {
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fds[0]);
    if (strstr(buf, "READY")) return 0;
    rtsp_server_stop(s, SIGKILL);
    return -1;
}

#endif
