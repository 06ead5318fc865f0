/* Reads SO_ORIGINAL_DST of an accepted socket (the address an iptables REDIRECT rewrote), for the sidecar proxy.
 * Node has no getsockopt; this is the one native piece. N-API is a stable C ABI, so its few prototypes are declared
 * here and no Node headers or node-gyp are needed: `cc -shared -fPIC` builds it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);

extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
extern napi_status napi_get_value_int32(napi_env, napi_value, int *);
extern napi_status napi_create_string_utf8(napi_env, const char *, size_t, napi_value *);
extern napi_status napi_create_int32(napi_env, int, napi_value *);
extern napi_status napi_create_object(napi_env, napi_value *);
extern napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
extern napi_status napi_get_null(napi_env, napi_value *);
extern napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);

/* originalDst(fd) -> { address, port } | null */
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  int fd = -1;
  char text[INET6_ADDRSTRLEN];
  int port = 0;
  napi_get_null(env, &result);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1) return result;
  if (napi_get_value_int32(env, argv[0], &fd) != 0 || fd < 0) return result;

  struct sockaddr_in6 sa6;
  socklen_t len = sizeof(sa6);
  memset(&sa6, 0, sizeof(sa6));
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &sa6, &len) == 0 && ((struct sockaddr *)&sa6)->sa_family == AF_INET) {
    struct sockaddr_in *sa4 = (struct sockaddr_in *)&sa6;
    inet_ntop(AF_INET, &sa4->sin_addr, text, sizeof(text));
    port = ntohs(sa4->sin_port);
  } else {
    len = sizeof(sa6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &sa6, &len) != 0 || sa6.sin6_family != AF_INET6) return result;
    inet_ntop(AF_INET6, &sa6.sin6_addr, text, sizeof(text));
    port = ntohs(sa6.sin6_port);
  }
  napi_value obj, addr, p;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, text, strlen(text), &addr);
  napi_create_int32(env, port, &p);
  napi_set_named_property(env, obj, "address", addr);
  napi_set_named_property(env, obj, "port", p);
  return obj;
}

napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDst", 11, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}
