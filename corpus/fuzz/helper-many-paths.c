/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["if1",["opaque",1],["work"]],["probe",2],["if1",["opaque",2],["work"]],["probe",3],["if1",["opaque",3],["work"]],["probe",4],["if1",["opaque",4],["work"]],["probe",5],["if1",["opaque",5],["work"]],["probe",6],["if1",["opaque",9],["op","down_read"]],["probe",7]],"try":null}],"body":[["probe",8],["call",0],["probe",9]],"epilogue":[["out",[["probe",10]]]]} */
/* Found by tests/test_fuzz_soundness.py (hypothesis, seed 21; rebuilt by hand). helper0() has 64 paths (more than summaries.MAX_PATHS): c->sem may be held for read after the call; the joined summary lost it (fixed: a lock taken in one mode on some paths of a joined helper is two cases, untouched and taken). */
static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	if (cond1())
		ret = do_work(n);
	probe(2);
	if (cond2())
		ret = do_work(n);
	probe(3);
	if (cond3())
		ret = do_work(n);
	probe(4);
	if (cond4())
		ret = do_work(n);
	probe(5);
	if (cond5())
		ret = do_work(n);
	probe(6);
	if (cond9())
		down_read(&z->sem);
	probe(7);
}

int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	struct foo *p = a;

	probe(8);
	helper0(a, b, c);
	probe(9);
out:
	probe(10);
	return ret;
}
