"""Reports the host name each rank runs on."""
import socket

from _worker import main, report

main(lambda args: report(host=socket.gethostname()))
