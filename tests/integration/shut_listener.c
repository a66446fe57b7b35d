/* shut_listener.c: shut down another process's listening socket (its fd 0)
 * from outside, as a test of what that process does when accept() reports
 * the socket unusable. Usage: shut_listener PID. Needs pidfd_getfd (Linux
 * 5.6+) and ptrace rights over PID (root, or the same user without Yama). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: shut_listener PID\n");
        return 2;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
    int fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, 0, 0);
    if (fd < 0 || shutdown(fd, SHUT_RDWR) < 0) {
        perror("shut_listener");
        return 1;
    }
    return 0;
}
