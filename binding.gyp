{
  "targets": [
    {
      "target_name": "custos_fsnotify",
      "sources": ["native/fsnotify/fsnotify.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    }
  ]
}
