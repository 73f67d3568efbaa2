import { chromium } from "playwright-core";
const b = await chromium.launch({executablePath:"/usr/bin/chromium", args:["--no-sandbox","--disable-gpu","--disable-background-networking","--disable-component-update","--disable-sync","--no-first-run"]});
const p = await b.newPage();
p.on("console", m => console.log("console", m.type(), m.text()));
await p.goto(process.argv[2]);
console.log(await p.evaluate(() => new Promise(res => {
  const out = [];
  const c = cockpit.dbus("org.corral1", {bus: "system"});
  c.addEventListener("owner", (e, o) => out.push("owner " + JSON.stringify(o)));
  c.addEventListener("close", (e, o) => out.push("close " + JSON.stringify(o)));
  c.call("/org/corral1", "org.freedesktop.DBus.Properties", "GetAll", ["org.corral1.Manager"]).then(r => out.push("ok "+JSON.stringify(r)), e => out.push("err " + JSON.stringify(e)));
  setTimeout(() => res(out.join("\n")), 3000);
})));
await b.close();
