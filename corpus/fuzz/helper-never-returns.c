/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["while",["const",1],[["probe",2]]],["probe",3]],"try":null}],"body":[["probe",4],["op","spin_lock"],["probe",5],["if",["opaque",1],[["probe",6],["op","spin_unlock"],["probe",7],["call",0],["probe",8]],null],["probe",9]],"epilogue":[["out",[["probe",10]]]]} */
/* Found by tests/test_fuzz_soundness.py (shrunk by hand from a hypothesis example). helper0() never returns: after the if, a->lock is held on every path; the dataflow also lets the unlocked branch through the call. */
static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	while (1) {
		probe(2);
	}
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
	spin_lock(&a->lock);
	probe(5);
	if (cond1()) {
		probe(6);
		spin_unlock(&a->lock);
		probe(7);
		helper0(a, b, c);
		probe(8);
	}
	probe(9);
out:
	probe(10);
	return ret;
}
