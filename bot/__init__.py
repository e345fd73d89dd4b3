"""The runtime: the Application, command line, jobs, web server and the Bot API emulator."""
