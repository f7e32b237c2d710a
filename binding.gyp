{
  "targets": [
    {
      "target_name": "custos_inotify",
      "sources": ["native/inotify/inotify.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    }
  ]
}
