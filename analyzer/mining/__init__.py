"""Protection learned from the tree: which lock guards which struct member, declared in
comments (:mod:`.declared`) and mined from the code's accesses (:mod:`.accesses`,
:mod:`.guards`)."""
