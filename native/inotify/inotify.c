/*
 * custos_inotify: a minimal Node-API binding of Linux inotify for the agent's
 * change journal (src/agent/journal/inotify.ts is its only user).
 *
 *   new Inotify(callback)   inotify_init1(IN_NONBLOCK | IN_CLOEXEC) and a
 *                           uv_poll_t on the descriptor; whenever it is
 *                           readable, read() until EAGAIN and call
 *                           callback(null, Buffer) once per read with the raw
 *                           `struct inotify_event` records (parsing is done
 *                           in TypeScript), or callback(Error) on a poll or
 *                           read error.
 *   addWatch(Buffer, mask)  inotify_add_watch; returns the wd. Paths are
 *                           bytes: Linux names need not be UTF-8.
 *   rmWatch(wd)             inotify_rm_watch.
 *   close()                 stops polling and closes the descriptor; no
 *                           callback runs afterwards. Idempotent.
 *   ref() / unref()         whether the poll handle keeps the loop alive.
 *
 * Errors thrown carry `code` (e.g. 'ENOSPC', 'ENOENT'), `errno` and `syscall`
 * like Node's own system errors.
 *
 * Lifetime: the uv handle's memory must live until uv_close's callback has
 * run, and the JS object may be collected before or after close(); the
 * struct is freed only when both have happened. An instance still open when
 * its environment ends (a worker terminated, the process exiting) is closed
 * by an async cleanup hook, which holds the environment until the handle is
 * closed.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <uv.h>

/* Room for at least 64 KiB of records plus one maximal record. */
#define READ_BUF_SIZE (64 * 1024 + sizeof(struct inotify_event) + 256)
/* Bounded work per wake-up: a busy queue must not starve the loop (poll is
 * level-triggered, so what is left wakes us again). */
#define MAX_READS_PER_WAKEUP 16

typedef struct {
  int fd;              /* -1 once closed */
  int handle_open;     /* uv_close's callback has not run yet */
  int finalized;       /* the JS object has been collected */
  napi_async_cleanup_hook_handle cleanup; /* until uv_close's callback has run */
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  uv_poll_t poll;
  char buf[READ_BUF_SIZE] __attribute__((aligned(__alignof__(struct inotify_event))));
} inotify_t;

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) return NULL;                                \
  } while (0)

static napi_value make_errno_error(napi_env env, int err, const char *syscall) {
  char msg[256];
  napi_value code, message, error, num, sys;
  snprintf(msg, sizeof msg, "%s: %s, %s", uv_err_name(-err), uv_strerror(-err), syscall);
  if (napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_error(env, code, message, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, -err, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys) == napi_ok)
    napi_set_named_property(env, error, "syscall", sys);
  return error;
}

static void throw_errno(napi_env env, int err, const char *syscall) {
  napi_value error = make_errno_error(env, err, syscall);
  if (error != NULL) napi_throw(env, error);
}

/* The handle is closed: the environment may go (its cleanup waits for this)
 * and the memory may go once the JS object has too. */
static void on_closed(uv_handle_t *handle) {
  inotify_t *self = handle->data;
  self->handle_open = 0;
  if (self->cleanup != NULL) {
    napi_remove_async_cleanup_hook(self->cleanup);
    self->cleanup = NULL;
  }
  if (self->finalized) free(self);
}

/* Stops polling and closes the descriptor; releases the callback (not while
 * the environment is being torn down: it frees what is left itself). */
static void do_close(inotify_t *self, int teardown) {
  if (self->fd < 0) return;
  uv_poll_stop(&self->poll);
  uv_close((uv_handle_t *)&self->poll, on_closed);
  close(self->fd);
  self->fd = -1;
  if (teardown) return;
  if (self->callback != NULL) {
    napi_delete_reference(self->env, self->callback);
    self->callback = NULL;
  }
  if (self->async != NULL) {
    napi_async_destroy(self->env, self->async);
    self->async = NULL;
  }
}

/* The environment (a worker, or the process) is ending: close the handle if
 * it is open. The environment, and with it this code, stays until
 * on_closed has run (an env cleanup hook that closes synchronously would have
 * its close callback run after the addon is unloaded). */
static void async_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  inotify_t *self = arg;
  (void)handle;
  do_close(self, 1);
}

/* Calls callback(err, buf) as a top-level callback; a throw becomes an
 * uncaught exception, as for any other event source. */
static void deliver(inotify_t *self, napi_value err, napi_value buf) {
  napi_env env = self->env;
  napi_value fn, recv, global, result, argv[2];
  if (self->callback == NULL) return;
  if (napi_get_reference_value(env, self->callback, &fn) != napi_ok || fn == NULL) return;
  /* napi_make_callback wants an object as the receiver. */
  if (napi_get_undefined(env, &recv) != napi_ok || napi_get_global(env, &global) != napi_ok) return;
  argv[0] = err != NULL ? err : recv;
  argv[1] = buf != NULL ? buf : recv;
  if (napi_make_callback(env, self->async, global, fn, 2, argv, &result) == napi_pending_exception) {
    napi_value exception;
    if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  inotify_t *self = handle->data;
  napi_handle_scope scope;
  (void)events;
  if (self->fd < 0) return;
  if (napi_open_handle_scope(self->env, &scope) != napi_ok) return;
  if (status < 0) {
    deliver(self, make_errno_error(self->env, -status, "uv_poll"), NULL);
  } else {
    for (int i = 0; i < MAX_READS_PER_WAKEUP && self->fd >= 0; i++) {
      ssize_t n = read(self->fd, self->buf, sizeof self->buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) deliver(self, make_errno_error(self->env, errno, "read"), NULL);
        break;
      }
      if (n == 0) break;
      napi_value buf;
      if (napi_create_buffer_copy(self->env, (size_t)n, self->buf, NULL, &buf) != napi_ok) break;
      deliver(self, NULL, buf);
    }
  }
  napi_close_handle_scope(self->env, scope);
}

static void finalize(napi_env env, void *data, void *hint) {
  inotify_t *self = data;
  (void)env;
  (void)hint;
  do_close(self, 0);
  self->finalized = 1;
  if (!self->handle_open) free(self);
}

static inotify_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value this_arg;
  inotify_t *self = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &this_arg, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, this_arg, (void **)&self) != napi_ok || self == NULL) {
    napi_throw_type_error(env, NULL, "not an Inotify object");
    return NULL;
  }
  return self;
}

static inotify_t *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  inotify_t *self = unwrap(env, info, argc, argv);
  if (self != NULL && self->fd < 0) {
    throw_errno(env, EBADF, "inotify (closed)");
    return NULL;
  }
  return self;
}

static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], this_arg, name;
  napi_valuetype type;
  uv_loop_t *loop;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &this_arg, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "new Inotify(callback): callback must be a function");
    return NULL;
  }
  CHECK(napi_get_uv_event_loop(env, &loop));
  inotify_t *self = calloc(1, sizeof *self);
  if (self == NULL) {
    throw_errno(env, ENOMEM, "calloc");
    return NULL;
  }
  self->env = env;
  self->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (self->fd < 0) {
    int err = errno;
    free(self);
    throw_errno(env, err, "inotify_init1");
    return NULL;
  }
  int rc = uv_poll_init(loop, &self->poll, self->fd);
  if (rc == 0) {
    self->poll.data = self;
    self->handle_open = 1;
    rc = uv_poll_start(&self->poll, UV_READABLE, on_readable);
  }
  if (rc != 0 ||
      napi_create_reference(env, argv[0], 1, &self->callback) != napi_ok ||
      napi_create_string_utf8(env, "custos_inotify", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &self->async) != napi_ok ||
      napi_wrap(env, this_arg, self, finalize, NULL, NULL) != napi_ok) {
    self->finalized = 1; /* nothing else refers to it: free once closed */
    if (self->handle_open) {
      do_close(self, 0);
    } else {
      close(self->fd);
      free(self);
    }
    if (rc != 0) throw_errno(env, -rc, "uv_poll_init");
    return NULL;
  }
  if (napi_add_async_cleanup_hook(env, async_cleanup, self, &self->cleanup) != napi_ok) self->cleanup = NULL;
  return this_arg;
}

static napi_value add_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  bool is_buffer = false;
  void *data;
  size_t len;
  uint32_t mask;
  inotify_t *self = unwrap_open(env, info, &argc, argv);
  if (self == NULL) return NULL;
  if (argc < 2 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_value_uint32(env, argv[1], &mask) != napi_ok) {
    napi_throw_type_error(env, NULL, "addWatch(path: Buffer, mask: number)");
    return NULL;
  }
  CHECK(napi_get_buffer_info(env, argv[0], &data, &len));
  if (len == 0 || memchr(data, 0, len) != NULL) {
    napi_throw_type_error(env, NULL, "addWatch: the path is empty or contains a NUL byte");
    return NULL;
  }
  char *path = malloc(len + 1);
  if (path == NULL) {
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  memcpy(path, data, len);
  path[len] = '\0';
  int wd = inotify_add_watch(self->fd, path, mask);
  int err = errno;
  free(path);
  if (wd < 0) {
    throw_errno(env, err, "inotify_add_watch");
    return NULL;
  }
  CHECK(napi_create_int32(env, wd, &result));
  return result;
}

static napi_value rm_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t wd;
  inotify_t *self = unwrap_open(env, info, &argc, argv);
  if (self == NULL) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &wd) != napi_ok) {
    napi_throw_type_error(env, NULL, "rmWatch(wd: number)");
    return NULL;
  }
  if (inotify_rm_watch(self->fd, wd) < 0) throw_errno(env, errno, "inotify_rm_watch");
  return NULL;
}

static napi_value close_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  inotify_t *self = unwrap(env, info, &argc, NULL);
  if (self != NULL) do_close(self, 0);
  return NULL;
}

static napi_value ref_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  inotify_t *self = unwrap(env, info, &argc, NULL);
  if (self != NULL && self->fd >= 0) uv_ref((uv_handle_t *)&self->poll);
  return NULL;
}

static napi_value unref_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  inotify_t *self = unwrap(env, info, &argc, NULL);
  if (self != NULL && self->fd >= 0) uv_unref((uv_handle_t *)&self->poll);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value cls;
  napi_property_descriptor methods[] = {
      {"addWatch", NULL, add_watch, NULL, NULL, NULL, napi_default_method, NULL},
      {"rmWatch", NULL, rm_watch, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, close_fn, NULL, NULL, NULL, napi_default_method, NULL},
      {"ref", NULL, ref_fn, NULL, NULL, NULL, napi_default_method, NULL},
      {"unref", NULL, unref_fn, NULL, NULL, NULL, napi_default_method, NULL},
  };
  CHECK(napi_define_class(env, "Inotify", NAPI_AUTO_LENGTH, construct, NULL,
                          sizeof methods / sizeof methods[0], methods, &cls));
  CHECK(napi_set_named_property(env, exports, "Inotify", cls));
  return exports;
}

#else /* not Linux: an empty module; the TypeScript side says inotify is Linux only */

static napi_value init(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

#endif

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
