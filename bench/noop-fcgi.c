/* noop-fcgi: a FastCGI responder that does nothing but answer, for
 * bench/floor: what lighttpd + libfcgi cost per request before tuturu-api
 * does any work. */
#include <fcgiapp.h>

int main(void)
{
    FCGX_Request req;

    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
        return 1;
    while (FCGX_Accept_r(&req) == 0) {
        FCGX_FPrintF(req.out, "Status: 200 OK\r\nContent-Type: application/json\r\n"
                              "\r\n{\"messages\":[]}");
        FCGX_Finish_r(&req);
    }
    return 0;
}
