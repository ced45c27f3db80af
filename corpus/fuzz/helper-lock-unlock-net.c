/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["op","mutex_lock"],["probe",2],["op","mutex_unlock"],["probe",3]],"try":null}],"body":[["probe",4],["call",0],["probe",5]],"epilogue":[["out",[["probe",6]]]]} */
/* Found by tests/test_fuzz_soundness.py (shrunk by hand from a hypothesis example). After helper0(), b->m is not held on every path; the summary dropped the path's acquire->release pair as no effect and the dataflow kept it unknown (fixed: a pair is Action.PAIR, not held after the call). */
static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	mutex_lock(&y->m);
	probe(2);
	mutex_unlock(&y->m);
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
	helper0(a, b, c);
	probe(5);
out:
	probe(6);
	return ret;
}
