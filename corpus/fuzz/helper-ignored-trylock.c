/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["op","spin_trylock"],["probe",2]],"try":null}],"body":[["probe",3],["call",0],["probe",4]],"epilogue":[["out",[["probe",5]]]]} */
/* Found by tests/test_fuzz_soundness.py (shrunk by hand from a hypothesis example). helper0() may or may not get x->lock; the dataflow says a->lock is held on every path after the call. */
static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	spin_trylock(&x->lock);
	probe(2);
}

int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	struct foo *p = a;

	probe(3);
	helper0(a, b, c);
	probe(4);
out:
	probe(5);
	return ret;
}
