/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["call",1],["probe",2],["while",["call",1,false],[["probe",3]]],["probe",4]],"file":1,"try":null},{"ret":"bool","body":[["probe",5],["call",2],["probe",6]],"file":1,"try":"down_read_trylock"},{"ret":"bool","body":[["probe",7]],"file":1,"try":"down_read_trylock"}],"body":[["probe",8],["call",0],["probe",9],["op","down_read"],["probe",10]],"epilogue":[["out",[["probe",11]]]]} */
/* Found by tests/test_fuzz_soundness.py (chains, hypothesis). helper0() loops while helper1() returns true; helper1()'s cases differ in what they do to c->sem. The branch on the call joined the cases that agree with the edge on one path, so one case's acquire read as every path's. A branch on a helper whose cases differ now forks per case. */
void helper0(struct foo *x, struct bar *y, struct baz *z);

bool helper1(struct foo *x, struct bar *y, struct baz *z);

bool helper2(struct foo *x, struct bar *y, struct baz *z);

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
