// corralctl vnc and screenshot: the VM's graphical console (Instance.Display, Screenshot).
#pragma once

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

// vnc NAME: where the VNC server listens and a viewer command line for it.
int vncVerb(const Args& a);
// screenshot NAME FILE: a PNG of the console, written by qemu on the host corrald runs on. FILE
// is made absolute here; with -H it names a file of that host and must already be absolute.
int screenshotVerb(const Args& a);

}  // namespace corral::supervisor::ctl
