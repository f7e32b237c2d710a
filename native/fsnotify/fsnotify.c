/*
 * custos_fsnotify: a minimal Node-API binding of Linux inotify and fanotify
 * for the agent's change journal (src/agent/journal/inotify.ts and
 * fanotify.ts are its only users). Both classes are one pollable descriptor:
 *
 *   new Inotify(callback)   inotify_init1(IN_NONBLOCK | IN_CLOEXEC); whenever
 *                           the descriptor is readable, read() until EAGAIN
 *                           and call callback(null, Buffer) once per read with
 *                           the raw `struct inotify_event` records (parsed in
 *                           TypeScript), or callback(Error) on a poll or read
 *                           error.
 *   addWatch(Buffer, mask)  inotify_add_watch; returns the wd. Paths are
 *                           bytes: Linux names need not be UTF-8.
 *   rmWatch(wd)             inotify_rm_watch.
 *
 *   new Fanotify(callback)  fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID):
 *                           events name the object by file handle, never by
 *                           an open descriptor. Needs CAP_SYS_ADMIN.
 *   mark(Buffer, mask)      fanotify_mark(FAN_MARK_ADD | FAN_MARK_FILESYSTEM):
 *                           every object of the file system holding the path,
 *                           which is opened again to resolve handles.
 *                           Returns the file system's fsid as a hex string.
 *                           Each read's events are resolved here
 *                           (open_by_handle_at + fstat, which needs
 *                           CAP_DAC_READ_SEARCH) and callback(null, Buffer)
 *                           gets one 40-byte record per event:
 *                             u64 dev, u64 ino, u32 nlink, u32 mode,
 *                             u32 mask, u32 flags, u64 reserved (0)
 *                           in host byte order; flags: 1 the queue overflowed
 *                           (no object), 2 the handle could not be resolved
 *                           (errno in nlink). An object gone before it was
 *                           resolved (ESTALE) gives no record.
 *
 *   drain()                 delivers every event queued so far before it
 *                           returns (the callback runs nested in the call):
 *                           the kernel queues an event before the system
 *                           call that caused it returns.
 *
 *   close()                 stops polling and closes the descriptor (and the
 *                           marked paths); no callback runs afterwards.
 *                           Idempotent.
 *   ref() / unref()         whether the poll handle keeps the loop alive.
 *
 *   peerCredentials(fd)     getsockopt(fd, SOL_SOCKET, SO_PEERCRED): the
 *                           { pid, uid, gid } the kernel recorded for the
 *                           process at the other end of a connected Unix
 *                           socket when it connected (end-user recovery,
 *                           src/agent/user/peer.ts). Node has no API for it.
 *
 *   trimMemory()            malloc_trim(0) where the C library is glibc:
 *                           gives the free memory of every arena back to the
 *                           kernel (src/agent/memory.ts); true when some was.
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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_by_handle_at, struct file_handle, O_PATH */
#endif
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string.h>

#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <uv.h>

/* Room for at least 64 KiB of records plus one maximal record. */
#define READ_BUF_SIZE (64 * 1024 + sizeof(struct inotify_event) + 256)
/* A fanotify record as delivered (see the file comment). */
#define FAN_RECORD_SIZE 40
/* At most this many records per read: a read of READ_BUF_SIZE holds fewer
 * events than that (each is at least a metadata header and a fid record). */
#define FAN_MAX_RECORDS (READ_BUF_SIZE / (sizeof(struct fanotify_event_metadata) + sizeof(struct fanotify_event_info_fid)) + 1)
/* File systems one Fanotify instance may mark. */
#define MAX_MARKS 64
#define FLAG_OVERFLOW 1
#define FLAG_UNRESOLVED 2

enum kind { KIND_INOTIFY, KIND_FANOTIFY };

/* A marked file system: its fsid, and the highest directory above the marked
 * path still in that file system (its mount root, which cannot be removed
 * while mounted), opened for open_by_handle_at while one read's events are
 * resolved. (A descriptor kept open would keep a deleted directory's inode,
 * and with it inotify's IN_DELETE_SELF, alive, and make the file system busy
 * for umount.) */
typedef struct {
  fsid_t fsid;
  char *path;
  int fd; /* -1 outside fanotify_records */
} mark_t;
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
  enum kind kind;
  int nmarks;
  mark_t marks[MAX_MARKS];
  unsigned char *out; /* fanotify: the records of one read */
  char buf[READ_BUF_SIZE] __attribute__((aligned(__alignof__(struct inotify_event))));
} notifier_t;

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

static void release(notifier_t *self) {
  free(self->out);
  free(self);
}

/* The handle is closed: the environment may go (its cleanup waits for this)
 * and the memory may go once the JS object has too. */
static void on_closed(uv_handle_t *handle) {
  notifier_t *self = handle->data;
  self->handle_open = 0;
  if (self->cleanup != NULL) {
    napi_remove_async_cleanup_hook(self->cleanup);
    self->cleanup = NULL;
  }
  if (self->finalized) release(self);
}

/* Stops polling and closes the descriptor; releases the callback (not while
 * the environment is being torn down: it frees what is left itself). */
static void do_close(notifier_t *self, int teardown) {
  if (self->fd < 0) return;
  uv_poll_stop(&self->poll);
  uv_close((uv_handle_t *)&self->poll, on_closed);
  close(self->fd);
  self->fd = -1;
  for (int i = 0; i < self->nmarks; i++) {
    if (self->marks[i].fd >= 0) close(self->marks[i].fd);
    free(self->marks[i].path);
  }
  self->nmarks = 0;
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
  notifier_t *self = arg;
  (void)handle;
  do_close(self, 1);
}

/* Calls callback(err, buf) as a top-level callback; a throw becomes an
 * uncaught exception, as for any other event source. */
static void deliver(notifier_t *self, napi_value err, napi_value buf) {
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

/* The index of the marked file system `fsid`, or -1. */
static int find_mark(notifier_t *self, const void *fsid) {
  for (int i = 0; i < self->nmarks; i++)
    if (memcmp(&self->marks[i].fsid, fsid, sizeof(fsid_t)) == 0) return i;
  return -1;
}

/* A descriptor in the marked file system `fsid` (opened until close_marks), or -1 with errno set. */
static int mark_fd(notifier_t *self, const void *fsid) {
  int i = find_mark(self, fsid);
  if (i < 0) {
    errno = EXDEV;
    return -1;
  }
  mark_t *m = &self->marks[i];
  if (m->fd < 0) {
    m->fd = open(m->path, O_RDONLY | O_CLOEXEC); /* open_by_handle_at refuses an O_PATH descriptor */
    if (m->fd >= 0) {
      struct statfs sfs;
      if (fstatfs(m->fd, &sfs) < 0 || memcmp(&sfs.f_fsid, fsid, sizeof(fsid_t)) != 0) {
        /* The path leads elsewhere now (replaced, unmounted). */
        close(m->fd);
        m->fd = -1;
        errno = EXDEV;
      }
    }
  }
  return m->fd;
}

static void close_marks(notifier_t *self) {
  for (int i = 0; i < self->nmarks; i++) {
    if (self->marks[i].fd >= 0) close(self->marks[i].fd);
    self->marks[i].fd = -1;
  }
}

static unsigned char *put_record(unsigned char *r, const struct stat *st, uint32_t mask, uint32_t flags, uint32_t err) {
  uint64_t dev = st ? (uint64_t)st->st_dev : 0, ino = st ? (uint64_t)st->st_ino : 0, zero = 0;
  uint32_t nlink = st ? (uint32_t)st->st_nlink : err, mode = st ? (uint32_t)st->st_mode : 0;
  memcpy(r, &dev, 8);
  memcpy(r + 8, &ino, 8);
  memcpy(r + 16, &nlink, 4);
  memcpy(r + 20, &mode, 4);
  memcpy(r + 24, &mask, 4);
  memcpy(r + 28, &flags, 4);
  memcpy(r + 32, &zero, 8);
  return r + FAN_RECORD_SIZE;
}

/* Resolves the object of one fid record: a record, or nothing when it is gone. */
static unsigned char *resolve_fid(notifier_t *self, unsigned char *r, const struct fanotify_event_info_fid *fid, size_t room, uint32_t mask) {
  /* The handle follows the fsid, unaligned: copy it into an aligned buffer. */
  union {
    struct file_handle fh;
    char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } h;
  const unsigned char *src = fid->handle;
  size_t head = sizeof(struct file_handle);
  if (room < sizeof *fid + head) return put_record(r, NULL, mask, FLAG_UNRESOLVED, EINVAL);
  memcpy(&h.fh, src, head);
  if (h.fh.handle_bytes > MAX_HANDLE_SZ || room < sizeof *fid + head + h.fh.handle_bytes)
    return put_record(r, NULL, mask, FLAG_UNRESOLVED, EINVAL);
  memcpy(h.fh.f_handle, src + head, h.fh.handle_bytes);
  int mount = mark_fd(self, &fid->fsid);
  if (mount < 0) return put_record(r, NULL, mask, FLAG_UNRESOLVED, (uint32_t)errno);
  int fd = open_by_handle_at(mount, &h.fh, O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ESTALE ? r : put_record(r, NULL, mask, FLAG_UNRESOLVED, (uint32_t)errno);
  struct stat st;
  int rc = fstat(fd, &st);
  int err = errno;
  close(fd);
  if (rc < 0) return put_record(r, NULL, mask, FLAG_UNRESOLVED, (uint32_t)err);
  return put_record(r, &st, mask, 0, 0);
}

/* Turns one read of fanotify events into records; returns their total size. */
static size_t fanotify_records(notifier_t *self, size_t len) {
  unsigned char *r = self->out;
  const struct fanotify_event_metadata *m = (const struct fanotify_event_metadata *)self->buf;
  size_t left = len;
  while (FAN_EVENT_OK(m, left) && (size_t)(r - self->out) + FAN_RECORD_SIZE <= FAN_MAX_RECORDS * FAN_RECORD_SIZE) {
    if (m->mask & FAN_Q_OVERFLOW) {
      r = put_record(r, NULL, (uint32_t)m->mask, FLAG_OVERFLOW, 0);
    } else if (m->vers != FANOTIFY_METADATA_VERSION) {
      r = put_record(r, NULL, (uint32_t)m->mask, FLAG_UNRESOLVED, EPROTO);
    } else {
      const unsigned char *info = (const unsigned char *)m + m->metadata_len;
      const unsigned char *end = (const unsigned char *)m + m->event_len;
      int resolved = 0;
      while (!resolved && info + sizeof(struct fanotify_event_info_header) <= end) {
        const struct fanotify_event_info_fid *fid = (const struct fanotify_event_info_fid *)info;
        size_t ilen = fid->hdr.len;
        if (ilen < sizeof(struct fanotify_event_info_header) || info + ilen > end) break;
        if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_FID) {
          r = resolve_fid(self, r, fid, ilen, (uint32_t)m->mask);
          resolved = 1;
        }
        info += ilen;
      }
      if (!resolved) r = put_record(r, NULL, (uint32_t)m->mask, FLAG_UNRESOLVED, ENODATA);
    }
    m = FAN_EVENT_NEXT(m, left);
  }
  close_marks(self);
  return (size_t)(r - self->out);
}

/* Reads up to `max_reads` times (until EAGAIN) and delivers each read. */
static void pump(notifier_t *self, int max_reads) {
  for (int i = 0; i < max_reads && self->fd >= 0; i++) {
    ssize_t n = read(self->fd, self->buf, sizeof self->buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) deliver(self, make_errno_error(self->env, errno, "read"), NULL);
      break;
    }
    if (n == 0) break;
    const void *data = self->buf;
    size_t size = (size_t)n;
    if (self->kind == KIND_FANOTIFY) {
      size = fanotify_records(self, size);
      data = self->out;
      if (size == 0) continue;
    }
    napi_value buf;
    if (napi_create_buffer_copy(self->env, size, data, NULL, &buf) != napi_ok) break;
    deliver(self, NULL, buf);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  notifier_t *self = handle->data;
  napi_handle_scope scope;
  (void)events;
  if (self->fd < 0) return;
  if (napi_open_handle_scope(self->env, &scope) != napi_ok) return;
  if (status < 0) deliver(self, make_errno_error(self->env, -status, "uv_poll"), NULL);
  else pump(self, MAX_READS_PER_WAKEUP);
  napi_close_handle_scope(self->env, scope);
}

static void finalize(napi_env env, void *data, void *hint) {
  notifier_t *self = data;
  (void)env;
  (void)hint;
  do_close(self, 0);
  self->finalized = 1;
  if (!self->handle_open) release(self);
}

static notifier_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value this_arg;
  notifier_t *self = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &this_arg, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, this_arg, (void **)&self) != napi_ok || self == NULL) {
    napi_throw_type_error(env, NULL, "not an Inotify or Fanotify object");
    return NULL;
  }
  return self;
}

static notifier_t *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  notifier_t *self = unwrap(env, info, argc, argv);
  if (self != NULL && self->fd < 0) {
    throw_errno(env, EBADF, self->kind == KIND_INOTIFY ? "inotify (closed)" : "fanotify (closed)");
    return NULL;
  }
  return self;
}

/* Opens the descriptor of an instance of `kind`; -1 with errno set. */
static int open_kind(enum kind kind, const char **syscall) {
  if (kind == KIND_INOTIFY) {
    *syscall = "inotify_init1";
    return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  }
  *syscall = "fanotify_init";
  return fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_FID, O_RDONLY | O_LARGEFILE);
}

static napi_value construct(napi_env env, napi_callback_info info, enum kind kind) {
  const char *what = kind == KIND_INOTIFY ? "custos_inotify" : "custos_fanotify";
  size_t argc = 1;
  napi_value argv[1], this_arg, name;
  napi_valuetype type;
  uv_loop_t *loop;
  const char *syscall;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &this_arg, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "new Inotify|Fanotify(callback): callback must be a function");
    return NULL;
  }
  CHECK(napi_get_uv_event_loop(env, &loop));
  notifier_t *self = calloc(1, sizeof *self);
  if (self == NULL || (kind == KIND_FANOTIFY && (self->out = malloc(FAN_MAX_RECORDS * FAN_RECORD_SIZE)) == NULL)) {
    if (self != NULL) release(self);
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  self->env = env;
  self->kind = kind;
  self->fd = open_kind(kind, &syscall);
  if (self->fd < 0) {
    int err = errno;
    release(self);
    throw_errno(env, err, syscall);
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
      napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &self->async) != napi_ok ||
      napi_wrap(env, this_arg, self, finalize, NULL, NULL) != napi_ok) {
    self->finalized = 1; /* nothing else refers to it: free once closed */
    if (self->handle_open) {
      do_close(self, 0);
    } else {
      close(self->fd);
      release(self);
    }
    if (rc != 0) throw_errno(env, -rc, "uv_poll_init");
    return NULL;
  }
  if (napi_add_async_cleanup_hook(env, async_cleanup, self, &self->cleanup) != napi_ok) self->cleanup = NULL;
  return this_arg;
}

static napi_value construct_inotify(napi_env env, napi_callback_info info) {
  return construct(env, info, KIND_INOTIFY);
}

static napi_value construct_fanotify(napi_env env, napi_callback_info info) {
  return construct(env, info, KIND_FANOTIFY);
}

/* The (path: Buffer, mask: number) arguments of addWatch and mark, the path
 * as a C string to free(); NULL after throwing. */
static char *path_and_mask(napi_env env, napi_callback_info info, notifier_t **self, enum kind kind, uint32_t *mask) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_buffer = false;
  void *data;
  size_t len;
  const char *usage = kind == KIND_INOTIFY ? "addWatch(path: Buffer, mask: number)" : "mark(path: Buffer, mask: number)";
  *self = unwrap_open(env, info, &argc, argv);
  if (*self == NULL) return NULL;
  if ((*self)->kind != kind || argc < 2 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_value_uint32(env, argv[1], mask) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) return NULL;
  if (len == 0 || memchr(data, 0, len) != NULL) {
    napi_throw_type_error(env, NULL, "the path is empty or contains a NUL byte");
    return NULL;
  }
  char *path = malloc(len + 1);
  if (path == NULL) {
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  memcpy(path, data, len);
  path[len] = '\0';
  return path;
}

static napi_value add_watch(napi_env env, napi_callback_info info) {
  napi_value result;
  uint32_t mask;
  notifier_t *self;
  char *path = path_and_mask(env, info, &self, KIND_INOTIFY, &mask);
  if (path == NULL) return NULL;
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

/* The highest directory at or above `path` (which it takes) in the file
 * system `fsid`. */
static char *highest_in(char *path, const fsid_t *fsid) {
  for (;;) {
    char *slash = strrchr(path, '/');
    if (slash == NULL) return path;
    char saved = slash == path ? slash[1] : slash[0];
    if (slash == path) slash[1] = '\0'; /* "/" */
    else slash[0] = '\0';
    struct statfs up;
    if (statfs(path, &up) < 0 || memcmp(&up.f_fsid, fsid, sizeof(fsid_t)) != 0) {
      if (slash == path) slash[1] = saved;
      else slash[0] = saved;
      return path;
    }
    if (slash == path) return path;
  }
}

/* Marks the file system of `path` (once per file system); returns its fsid in hex. */
static napi_value mark(napi_env env, napi_callback_info info) {
  napi_value result;
  uint32_t mask;
  notifier_t *self;
  struct statfs sfs;
  char hex[2 * sizeof(fsid_t) + 1];
  char *path = path_and_mask(env, info, &self, KIND_FANOTIFY, &mask);
  if (path == NULL) return NULL;
  int err = 0;
  const char *syscall = "statfs";
  if (statfs(path, &sfs) < 0) {
    err = errno;
  } else if (find_mark(self, &sfs.f_fsid) < 0) {
    syscall = "fanotify_mark";
    if (self->nmarks >= MAX_MARKS) {
      err = EMFILE;
    } else if (fanotify_mark(self->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, path) < 0) {
      err = errno;
    } else {
      mark_t *m = &self->marks[self->nmarks++];
      m->fsid = sfs.f_fsid;
      m->path = highest_in(path, &sfs.f_fsid); /* takes path */
      m->fd = -1;
      path = NULL;
    }
  }
  free(path);
  if (err != 0) {
    throw_errno(env, err, syscall);
    return NULL;
  }
  const unsigned char *b = (const unsigned char *)&sfs.f_fsid;
  for (size_t i = 0; i < sizeof(fsid_t); i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
  CHECK(napi_create_string_utf8(env, hex, NAPI_AUTO_LENGTH, &result));
  return result;
}

static napi_value rm_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t wd;
  notifier_t *self = unwrap_open(env, info, &argc, argv);
  if (self == NULL) return NULL;
  if (self->kind != KIND_INOTIFY || argc < 1 || napi_get_value_int32(env, argv[0], &wd) != napi_ok) {
    napi_throw_type_error(env, NULL, "rmWatch(wd: number)");
    return NULL;
  }
  if (inotify_rm_watch(self->fd, wd) < 0) throw_errno(env, errno, "inotify_rm_watch");
  return NULL;
}

/* Delivers, before it returns, every event queued so far (the callback runs
 * nested in this call). */
static napi_value drain(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  notifier_t *self = unwrap_open(env, info, &argc, NULL);
  if (self != NULL) pump(self, 1 << 20);
  return NULL;
}

static napi_value close_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  notifier_t *self = unwrap(env, info, &argc, NULL);
  if (self != NULL) do_close(self, 0);
  return NULL;
}

static napi_value ref_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  notifier_t *self = unwrap(env, info, &argc, NULL);
  if (self != NULL && self->fd >= 0) uv_ref((uv_handle_t *)&self->poll);
  return NULL;
}

static napi_value unref_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  notifier_t *self = unwrap(env, info, &argc, NULL);
  if (self != NULL && self->fd >= 0) uv_unref((uv_handle_t *)&self->poll);
  return NULL;
}

static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  int32_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "peerCredentials(fd): fd must be a file descriptor");
    return NULL;
  }
  memset(&cred, 0, sizeof cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    throw_errno(env, errno, "getsockopt");
    return NULL;
  }
  if (len != sizeof cred) {
    throw_errno(env, EPROTO, "getsockopt");
    return NULL;
  }
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_int64(env, (int64_t)cred.pid, &v));
  CHECK(napi_set_named_property(env, out, "pid", v));
  CHECK(napi_create_int64(env, (int64_t)cred.uid, &v));
  CHECK(napi_set_named_property(env, out, "uid", v));
  CHECK(napi_create_int64(env, (int64_t)cred.gid, &v));
  CHECK(napi_set_named_property(env, out, "gid", v));
  return out;
}

/* Returns the free memory of every malloc arena to the kernel (glibc's
 * malloc_trim): buffers freed by a long job leave the heap fragmented, and
 * glibc gives back only its top on its own, so a process that moved a few GB
 * kept hundreds of MiB it no longer used. True when some was returned. */
static napi_value trim_memory(napi_env env, napi_callback_info info) {
  napi_value out;
  int released = 0;
  (void)info;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  CHECK(napi_get_boolean(env, released != 0, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value cls, fn;
#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL}
#define COMMON_METHODS METHOD("close", close_fn), METHOD("ref", ref_fn), METHOD("unref", unref_fn)
  napi_property_descriptor inotify_methods[] = {METHOD("addWatch", add_watch), METHOD("rmWatch", rm_watch), COMMON_METHODS};
  napi_property_descriptor fanotify_methods[] = {METHOD("mark", mark), METHOD("drain", drain), COMMON_METHODS};
  CHECK(napi_define_class(env, "Inotify", NAPI_AUTO_LENGTH, construct_inotify, NULL,
                          sizeof inotify_methods / sizeof inotify_methods[0], inotify_methods, &cls));
  CHECK(napi_set_named_property(env, exports, "Inotify", cls));
  CHECK(napi_define_class(env, "Fanotify", NAPI_AUTO_LENGTH, construct_fanotify, NULL,
                          sizeof fanotify_methods / sizeof fanotify_methods[0], fanotify_methods, &cls));
  CHECK(napi_set_named_property(env, exports, "Fanotify", cls));
  CHECK(napi_create_function(env, "peerCredentials", NAPI_AUTO_LENGTH, peer_credentials, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "peerCredentials", fn));
  CHECK(napi_create_function(env, "trimMemory", NAPI_AUTO_LENGTH, trim_memory, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "trimMemory", fn));
  return exports;
}

#else /* not Linux: an empty module; the TypeScript side says these are Linux only */

static napi_value init(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

#endif

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
