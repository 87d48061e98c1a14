# A smarthost for the tests of outbound mail (testpeer.StartSmarthost): aiosmtpd on loopback that
# keeps every message it accepts as N.eml (the bytes as received) and
# N.json (the envelope) in a folder, and answers by recipient:
#   reject@...  550 5.1.1 at RCPT
#   flaky@...   451 4.3.0 at its first RCPT, accepted after
#   defer@...   451 4.4.1 at every RCPT
#   slow@...    the first DATA writes a file "waiting" and then waits until a
#               file named "release" is in the folder (its client may be
#               killed meanwhile: then nothing is kept); later ones pass
# With SMARTHOST_TLS_CERT and SMARTHOST_TLS_KEY in the environment it offers
# STARTTLS with that pair; with SMARTHOST_TLS_BROKEN=1 too, the handshake
# that follows always fails (TLS 1.2 at most and only DHE ciphers, which Go's
# client does not speak: a real server's real handshake failure); with
# SMARTHOST_TLS_REFUSE=1 it offers STARTTLS and answers it "454 TLS not
# available" (as a server whose certificate is missing does). Each
# envelope says whether the message came over TLS ("tls").
# Usage: smarthost.py FOLDER PORT [LOGIN PASSWORD]; prints "ready" once
# listening.
import asyncio, json, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

folder, port = sys.argv[1], int(sys.argv[2])
credentials = tuple(sys.argv[3:5]) if len(sys.argv) >= 5 else None
seen = {}
count = [0]

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0].lower()
        if local == "reject":
            return "550 5.1.1 no such user here"
        if local == "defer":
            return "451 4.4.1 still not reachable"
        if local == "flaky":
            seen[address] = seen.get(address, 0) + 1
            if seen[address] == 1:
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(a.split("@")[0].lower() == "slow" for a in envelope.rcpt_tos) and not seen.get("slow"):
            seen["slow"] = 1
            open(os.path.join(folder, "waiting"), "w").close()
            while not os.path.exists(os.path.join(folder, "release")):
                await asyncio.sleep(0.05)
                if session.peer is None or server.transport is None or server.transport.is_closing():
                    return "421 4.4.2 the client went away"
        count[0] += 1
        name = os.path.join(folder, "%d" % count[0])
        with open(name + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(name + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None}, f)
        return "250 2.0.0 queued as %d" % count[0]

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == credentials
    return AuthResult(success=ok, handled=False)

kwargs = {}
if credentials:
    kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
if os.environ.get("SMARTHOST_TLS_CERT"):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.environ["SMARTHOST_TLS_CERT"], os.environ["SMARTHOST_TLS_KEY"])
    if os.environ.get("SMARTHOST_TLS_BROKEN") == "1":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384")
    kwargs["tls_context"] = context
class RefusingSMTP(SMTP):
    async def smtp_STARTTLS(self, arg):
        await self.push("454 4.7.0 TLS not available")

class RefusingController(Controller):
    def factory(self):
        return RefusingSMTP(self.handler, **self.SMTP_kwargs)

controller_class = RefusingController if os.environ.get("SMARTHOST_TLS_REFUSE") == "1" else Controller
controller = controller_class(Handler(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
