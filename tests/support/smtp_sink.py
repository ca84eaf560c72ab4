"""A real SMTP server for the accounts tests, run as its own process: aiosmtpd on
127.0.0.1:PORT accepting every message. Each message is parsed as a mail client would and
written to DIR/<n>.json as {"from", "to", "subject", "text", "html", "raw"} (written to a
temporary name and renamed, so readers never see half a file). Prints "ready" once listening.

    python3 tests/support/smtp_sink.py PORT DIR
"""

import email
import email.policy
import itertools
import json
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {"text/plain": "", "text/html": ""}
        for part in message.walk():
            kind = part.get_content_type()
            if kind in parts and not parts[kind]:
                parts[kind] = part.get_content()
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message["subject"]),
            "text": parts["text/plain"],
            "html": parts["text/html"],
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        n = next(self.counter)
        path = os.path.join(self.folder, f"{n:05}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    signal.sigwait([signal.SIGTERM, signal.SIGINT])
    controller.stop()


if __name__ == "__main__":
    main()
