// Package pty opens Linux pseudo-terminals: the terminal an attached
// one-off dyno runs on when its user is at a terminal (heroku run bash),
// so that the terminal's line discipline does what a user expects of
// their keystrokes: a carriage return ends a line, ^C interrupts, ^D at
// the start of a line ends input, and typed characters are echoed.
//
// Open returns both ends. The process gets the terminal end (Slave) as
// its standard input, output and error and as its controlling terminal
// (Attr); the caller writes the user's input to Master and reads the
// process's output from it. Reading Master fails with EIO once every
// holder of the terminal end has closed it, which marks the end of the
// output.
package pty
