package expr

func registerArith()   {}
func registerCompare() {}
func registerLogic()   {}
func registerCond()    {}
func registerLike()    {}
func registerIn()      {}
func registerCast()    {}
func registerStrings() {}
func registerMath()    {}
func registerTime()    {}
