/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["call",1],["probe",2]],"file":1,"try":null},{"ret":"void","body":[["probe",3],["call",2],["probe",4],["tryvar","down_read_trylock",false,[["probe",5]],null],["probe",6]],"file":1,"try":null},{"ret":"void","body":[["probe",7]],"file":2,"try":null}],"body":[["probe",8],["call",0],["probe",9],["op","down_read"],["probe",10]],"epilogue":[["out",[["probe",11]]]]} */
/* Found by tests/test_fuzz_soundness.py (chains, shrunk). helper1() trylocks c->sem on one case only; helper0() calls it as a statement. The summary of helper0() joined helper1()'s cases on one path and read the trylock's acquire as every path's: must-held after helper0(), where the paths say held or untouched. A call statement whose cases differ in what they do to locks now forks the path. */
void helper0(struct foo *x, struct bar *y, struct baz *z);

void helper1(struct foo *x, struct bar *y, struct baz *z);

void helper2(struct foo *x, struct bar *y, struct baz *z);

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
	down_read(&c->sem);
	probe(10);
out:
	probe(11);
	return ret;
}
