"""The command-line tests call ``ftc.compiler.cli.main.main`` in-process or start ``ftc`` as a user would."""
