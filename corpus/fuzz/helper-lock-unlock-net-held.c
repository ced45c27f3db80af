/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["op","down_read"],["probe",2],["op","up_read"],["probe",3]],"try":null}],"body":[["probe",4],["op","down_read"],["probe",5],["call",0],["probe",6]],"epilogue":[["out",[["probe",7]]]]} */
/* Found by tests/test_fuzz_soundness.py (shrunk by hand from a hypothesis example). helper0() takes and releases z->sem while the caller holds c->sem for read: a deadlock (double-lock, kind callee). By design the caller's state stands after the call (loose_locks: not compared), where inline code would read not held; the other locks are compared exactly. */
static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	down_read(&z->sem);
	probe(2);
	up_read(&z->sem);
	probe(3);
}

int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	struct foo *p = a;

	probe(4);
	down_read(&c->sem);
	probe(5);
	helper0(a, b, c);
	probe(6);
out:
	probe(7);
	return ret;
}
