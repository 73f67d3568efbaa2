// corralctl define, show, edit and undefine: instance definitions through corrald
// (Manager.Define, Instance.GetDefinition, Update, Undefine), which validates and writes them.
#pragma once

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

// define FILE: the instance name is the file's "name" key, else its stem.
int defineVerb(const Args& a);
// show NAME: the definition exactly as corrald has it on disk.
int showVerb(const Args& a);
// edit NAME: a copy in $VISUAL, else $EDITOR, else vi; saved with Update when it changed.
int editVerb(const Args& a);
// undefine NAME [--remove-storage]
int undefineVerb(const Args& a);

}  // namespace corral::supervisor::ctl
