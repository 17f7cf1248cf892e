package expr

func registerCond()    {}
func registerLike()    {}
func registerIn()      {}
func registerCast()    {}
func registerStrings() {}
func registerMath()    {}
